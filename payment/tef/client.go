package tef

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client talks to one TEF manager (GP), one operation at a time (a GP has one PIN pad and,
// on files, one pair of folders): concurrent calls wait their turn.
//
// Every operation sends a request with a new 001-000 id, waits for the status (at most
// Config.StatusTimeout: ErrNoStatus after it) and, for ATV, ADM and CRT, for the response,
// with no time limit but ctx's: the customer owns the PIN pad. Answers with another id, or
// that do not parse, are dropped (and logged) and the wait goes on.
type Client struct {
	cfg Config
	tr  transport
	log *slog.Logger

	turn chan struct{} // held (full) during an operation

	now func() time.Time

	closeCtx  context.Context
	closeStop context.CancelFunc
}

// NewClient checks cfg and returns a client. It does not contact the GP: call ATV for that.
func NewClient(cfg Config, logger *slog.Logger) (*Client, error) {
	if !cfg.Enabled() {
		return nil, errors.New("tef: no device configured")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tef: %w", err)
	}
	dev, err := parseDevice(cfg.Device)
	if err != nil {
		return nil, fmt.Errorf("tef: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: logger, turn: make(chan struct{}, 1), now: time.Now}
	if dev.tcp != "" {
		c.tr = &tcpTransport{addr: dev.tcp, dialTimeout: cfg.StatusTimeout}
	} else {
		c.tr = &fileTransport{root: dev.root, partial: cfg.CutResponseTimeout}
	}
	c.closeCtx, c.closeStop = context.WithCancel(context.Background())
	return c, nil
}

// Close ends the operation under way (it returns ErrClosed) and makes later ones fail.
func (c *Client) Close() error {
	c.closeStop()
	c.turn <- struct{}{} // wait for the operation under way to leave
	<-c.turn
	return nil
}

// idEpoch is where request ids count from, in tenths of a second: 10 digits last until 2051.
var idEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// The last request id of the process (every client's).
var (
	idMu   sync.Mutex
	lastID uint64
)

// newID returns a request id: tenths of a second since idEpoch, or the last id + 1 when that
// is not more. Unique across restarts unless more than 10 requests a second were sent.
func (c *Client) newID() uint64 {
	idMu.Lock()
	defer idMu.Unlock()
	id := uint64(max(c.now().Sub(idEpoch)/(100*time.Millisecond), 1))
	if id <= lastID {
		id = lastID + 1
	}
	id %= 10_000_000_000
	lastID = id
	return id
}

// ATV asks the GP whether it is up: nil when it acknowledged and answered 009-000 = 0.
func (c *Client) ATV(ctx context.Context) error {
	resp, err := c.do(ctx, c.request("ATV"), true)
	if err != nil {
		return err
	}
	if !Approved(resp) {
		return fmt.Errorf("tef: ATV: the TEF manager answered 009-000 = %q: %s", resp.Value(9, 0), resp.Value(30, 0))
	}
	return nil
}

// Sale is a card sale (CRT).
type Sale struct {
	Document     string // 002-000: the session's ticket number (printable ASCII)
	AmountCents  int64
	Credit       bool // false: debit
	Installments int  // credit only; more than 1 needs Config.MaxInstallments >= it
}

// Sale runs a card sale and returns the GP's response, whatever its 009-000: see Approved,
// NeedsConfirmation, and Confirm or Undo. ErrNoStatus: the GP is down (nothing was charged);
// ErrConnectionLost or ctx ending during the wait: the outcome is unknown, treat as pending.
func (c *Client) Sale(ctx context.Context, s Sale) (*Message, error) {
	switch {
	case s.AmountCents <= 0:
		return nil, fmt.Errorf("tef: sale amount %d: must be more than 0", s.AmountCents)
	case !printableASCII(s.Document) || len(s.Document) > 40:
		return nil, fmt.Errorf("tef: sale document %q: printable ASCII of at most 40 characters", s.Document)
	case s.Installments > 1 && !s.Credit:
		return nil, fmt.Errorf("tef: %d installments on a debit sale", s.Installments)
	case s.Installments > 1 && s.Installments > c.cfg.MaxInstallments:
		return nil, fmt.Errorf("tef: %d installments: at most %d allowed (max_installments)", s.Installments, max(c.cfg.MaxInstallments, 1))
	}
	req := c.request("CRT")
	req.Set(2, 0, s.Document)
	req.Set(3, 0, FormatAmount(s.AmountCents))
	req.Set(4, 0, "0")
	if s.Credit {
		req.Set(731, 0, "1")
	} else {
		req.Set(731, 0, "2")
	}
	if s.Credit && s.Installments > 1 {
		req.Set(17, 0, "0") // financed by the merchant (parcelado loja)
		req.Set(18, 0, strconv.Itoa(s.Installments))
	}
	return c.do(ctx, req, true)
}

// Confirm sends CNF for an approved response (010, 012, 027 and 003 echoed): status only.
func (c *Client) Confirm(ctx context.Context, resp *Message) error {
	return c.resolve(ctx, "CNF", resp)
}

// Undo sends NCN for an approved response, or for the pending transaction a refusal names
// (its 010, 012, 027): status only.
func (c *Client) Undo(ctx context.Context, resp *Message) error { return c.resolve(ctx, "NCN", resp) }

func (c *Client) resolve(ctx context.Context, cmd string, resp *Message) error {
	req := c.request(cmd)
	for _, id := range []int{10, 12, 27} {
		v := resp.Value(id, 0)
		if v == "" {
			return fmt.Errorf("tef: %s: the response has no %03d-000 to echo", cmd, id)
		}
		req.Set(id, 0, v)
	}
	req.Set(3, 0, resp.Value(3, 0))
	_, err := c.do(ctx, req, false)
	return err
}

// Cancellation is a CNC: the cancellation of a confirmed sale, named by its network, NSU, host
// timestamp and amount (the GP asks the operator's password on the PIN pad).
type Cancellation struct {
	Network     string // 010-000 of the sale
	NSU         string // 012-000 of the sale, sent in 025-000
	Timestamp   string // 015-000 of the sale (DDMMhhmmss), sent in 026-000; "" if unknown
	AmountCents int64  // 003-000 of the sale
	Document    string // 002-000: the document of the sale, or "" (printable ASCII)
}

// Cancel runs a CNC and returns the GP's response, whatever its 009-000. An approved
// cancellation that NeedsConfirmation must be confirmed like a sale.
func (c *Client) Cancel(ctx context.Context, x Cancellation) (*Message, error) {
	switch {
	case x.AmountCents <= 0:
		return nil, fmt.Errorf("tef: cancellation amount %d: must be more than 0", x.AmountCents)
	case x.NSU == "" || !printableASCII(x.NSU) || len(x.NSU) > 40:
		return nil, fmt.Errorf("tef: cancellation NSU %q: 1 to 40 printable ASCII characters", x.NSU)
	case !printableASCII(x.Network) || len(x.Network) > 40:
		return nil, fmt.Errorf("tef: cancellation network %q: printable ASCII of at most 40 characters", x.Network)
	case x.Timestamp != "" && (len(x.Timestamp) != 10 || !allDigits(x.Timestamp)):
		return nil, fmt.Errorf("tef: cancellation timestamp %q: DDMMhhmmss", x.Timestamp)
	case !printableASCII(x.Document) || len(x.Document) > 40:
		return nil, fmt.Errorf("tef: cancellation document %q: printable ASCII of at most 40 characters", x.Document)
	}
	req := c.request("CNC")
	req.Set(2, 0, x.Document)
	req.Set(3, 0, FormatAmount(x.AmountCents))
	req.Set(4, 0, "0")
	req.Set(10, 0, x.Network)
	req.Set(25, 0, x.NSU)
	req.Set(26, 0, x.Timestamp)
	now := c.now()
	req.Set(22, 0, now.Format("02012006"))
	req.Set(23, 0, now.Format("150405"))
	return c.do(ctx, req, true)
}

// Leftover reads, on the file exchange, the response a crash left unread in RESP (the answer
// to a request sent before the process stopped), deletes it with the stale status and request
// files, and returns it: nil when there is none, or only a cut one (logged). A response read
// is returned with the error of a removal that failed after it was deleted. Call it once at
// start-up, before any other operation, which would delete it unread. Over TCP there is never
// a leftover: a dropped connection loses the answer, and the GP keeps the transaction pending.
func (c *Client) Leftover(ctx context.Context) (*Message, error) {
	ft, ok := c.tr.(*fileTransport)
	if !ok {
		return nil, nil
	}
	select {
	case c.turn <- struct{}{}:
		defer func() { <-c.turn }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ft.leftover(ctx, c.log)
}

// Admin opens the GP's administrative menu (ADM) and returns its response (reports come as
// receipt lines).
func (c *Client) Admin(ctx context.Context) (*Message, error) {
	return c.do(ctx, c.request("ADM"), true)
}

// request starts a request: the command and the automation's identification (the id is set
// when it is sent).
func (c *Client) request(cmd string) *Message {
	m := New(cmd, 0)
	m.Set(706, 0, strconv.Itoa(c.cfg.Capabilities))
	m.Set(735, 0, c.cfg.AutomationName)
	m.Set(736, 0, c.cfg.AutomationVersion)
	m.Set(738, 0, c.cfg.Certification)
	return m
}

// Approved reports whether a response is an approval: 009-000 = 0.
func Approved(resp *Message) bool { return strings.TrimSpace(resp.Value(9, 0)) == "0" }

// NeedsConfirmation reports whether an approved response waits for CNF or NCN: 729-000 = 2,
// or 729-000 absent and receipt lines present.
func NeedsConfirmation(resp *Message) bool {
	if !Approved(resp) {
		return false
	}
	switch strings.TrimSpace(resp.Value(729, 0)) {
	case "2":
		return true
	case "":
		return len(resp.Lines(28, 29)) > 0 || len(resp.CopyLines(711)) > 0 ||
			len(resp.CopyLines(713)) > 0 || len(resp.CopyLines(715)) > 0
	}
	return false
}

// do runs one exchange: it returns the response (wantResponse) or the status.
func (c *Client) do(ctx context.Context, req *Message, wantResponse bool) (*Message, error) {
	cmd := req.Command()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel)
	defer stop()
	fail := func(stage string, err error) error {
		if c.closeCtx.Err() != nil {
			err = ErrClosed
		}
		return fmt.Errorf("tef: %s %s: %s: %w", cmd, req.RequestID(), stage, err)
	}
	select {
	case c.turn <- struct{}{}:
		defer func() { <-c.turn }()
	case <-ctx.Done():
		return nil, fail("waiting for the operation under way", ctx.Err())
	}
	if c.closeCtx.Err() != nil {
		return nil, fail("not sent", ErrClosed)
	}
	id := c.newID()
	req.Set(1, 0, strconv.FormatUint(id, 10))
	raw, err := req.Encode()
	if err != nil {
		return nil, fail("encoding", err)
	}
	log := c.log.With("transport", c.tr.name(), "command", cmd, "id", id)

	sctx, scancel := context.WithTimeout(ctx, c.cfg.StatusTimeout)
	defer scancel()
	x, err := c.tr.send(sctx, raw)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail("sending", ctx.Err())
		}
		log.Warn("tef: the TEF manager cannot be reached", "err", err)
		return nil, fail("sending", fmt.Errorf("%w: %w", ErrNoStatus, err))
	}
	defer x.close()
	log.Debug("tef: request sent")
	status, err := c.wait(sctx, x, req, phaseStatus, log)
	if err != nil {
		x.abandon()
		switch {
		case ctx.Err() != nil:
			return nil, fail("waiting for the status", ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			log.Warn("tef: no status from the TEF manager", "timeout", c.cfg.StatusTimeout)
			return nil, fail("waiting for the status", fmt.Errorf("%w within %s", ErrNoStatus, c.cfg.StatusTimeout))
		case errors.Is(err, ErrConnectionLost):
			return nil, fail("waiting for the status", fmt.Errorf("%w: %v", ErrNoStatus, err))
		}
		return nil, fail("waiting for the status", err)
	}
	if !wantResponse {
		log.Info("tef: acknowledged")
		return status, nil
	}
	resp, err := c.wait(ctx, x, req, phaseResponse, log)
	if err != nil {
		log.Warn("tef: no response", "err", err)
		if ctx.Err() != nil {
			return nil, fail("waiting for the response", ctx.Err())
		}
		return nil, fail("waiting for the response", err)
	}
	log.Info("tef: response", "status", resp.Value(9, 0), "network", resp.Value(10, 0), "nsu", resp.Value(12, 0),
		"message", resp.Value(30, 0))
	return resp, nil
}

// wait returns the next answer of the phase that matches req; others are dropped.
func (c *Client) wait(ctx context.Context, x exchange, req *Message, p phase, log *slog.Logger) (*Message, error) {
	for {
		m, err := x.next(ctx, p, log)
		if err != nil {
			return nil, err
		}
		if err := Check(req, m); err != nil {
			log.Warn("tef: an answer to another request: dropped", "err", err)
			continue
		}
		return m, nil
	}
}
