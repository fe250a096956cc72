package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/totemd/totemd/payment/tef"
)

// ErrCardOutcomeUnknown wraps a card sale that got no answer after the manager took it (the
// connection dropped, the answer was cut): the sale may stand at the manager as a pending
// transaction. It is resolved with the manager before it can cost the customer anything.
var ErrCardOutcomeUnknown = errors.New("payment: card sale without an answer: outcome unknown")

// TEFCard is the CardTerminal of a TEF manager (GP) speaking TEF Dial through a tef.Client.
type TEFCard struct {
	c   *tef.Client
	log *slog.Logger
	// OnResult, when set, hears the outcome of every exchange with the manager (nil: it
	// answered): the daemon turns it into the tef.unavailable health condition.
	OnResult func(error)

	mu   sync.Mutex
	down error // the last exchange found the manager down; nil when it answered

	stop context.CancelFunc
	done chan struct{}
}

// NewTEFCard wraps c.
func NewTEFCard(c *tef.Client, logger *slog.Logger) *TEFCard {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &TEFCard{c: c, log: logger}
}

// Watch checks the manager (ATV) every interval, and every interval/6 while it is down, until
// Close, so Ready and the health condition follow it between sales. Call it after the Service
// started: recovery must read the manager's leftovers before anything else is sent.
func (t *TEFCard) Watch(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	t.stop, t.done = cancel, make(chan struct{})
	go func() {
		defer close(t.done)
		for {
			cctx, ccancel := context.WithTimeout(ctx, time.Minute)
			err := t.c.ATV(cctx)
			ccancel()
			if ctx.Err() != nil {
				return
			}
			t.result(err)
			d := interval
			if err != nil {
				d = max(interval/6, time.Second)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
	}()
}

// Close stops Watch (not the client).
func (t *TEFCard) Close() {
	if t.stop != nil {
		t.stop()
		<-t.done
	}
}

// result records whether the manager answered.
func (t *TEFCard) result(err error) {
	down := errors.Is(err, tef.ErrNoStatus)
	if err != nil && !down {
		return // an answer came (or we stopped): says nothing about the manager being down
	}
	t.mu.Lock()
	changed := (t.down != nil) != down
	if down {
		t.down = err
	} else {
		t.down = nil
	}
	t.mu.Unlock()
	if changed && down {
		t.log.Warn("TEF manager does not answer: card payments suspended", "err", err)
	} else if changed {
		t.log.Info("TEF manager answers again")
	}
	if t.OnResult != nil {
		if down {
			t.OnResult(err)
		} else {
			t.OnResult(nil)
		}
	}
}

var errTEFDown = Errf(KindUnavailable, "tef.unavailable", "TEF não responde. Tente Pix ou chame o atendente.")

// Ready is nil unless the last exchange found the manager down.
func (t *TEFCard) Ready(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down != nil {
		return &Error{Code: errTEFDown.Code, Kind: errTEFDown.Kind, Message: errTEFDown.Message, Err: t.down}
	}
	return nil
}

// Sale runs a CRT. The manager's refusals (declines, PIN pad cancellations, a pending
// transaction) are results; errors are only for no answer.
func (t *TEFCard) Sale(ctx context.Context, req CardSale, progress func(string)) (CardResult, error) {
	if progress != nil {
		progress("Siga as instruções do PIN pad.")
	}
	resp, err := t.c.Sale(ctx, tef.Sale{Document: req.Document, AmountCents: int64(req.Amount),
		Credit: req.Method == MethodCredit, Installments: req.Installments})
	t.result(err)
	if err != nil {
		return CardResult{}, t.saleErr(ctx, err)
	}
	return resultOf(resp), nil
}

func (t *TEFCard) saleErr(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, tef.ErrNoStatus):
		return &Error{Code: errTEFDown.Code, Kind: errTEFDown.Kind, Message: errTEFDown.Message, Err: err}
	case errors.Is(err, tef.ErrConnectionLost):
		return fmt.Errorf("%w: %w", ErrCardOutcomeUnknown, err)
	case ctx.Err() != nil, errors.Is(err, tef.ErrClosed):
		return fmt.Errorf("%w: %w", ErrCardOutcomeUnknown, err)
	}
	return &Error{Code: "tef.error", Kind: KindUnavailable, Err: err,
		Message: "O TEF recusou o pedido. Tente Pix ou chame o atendente."}
}

// Confirm sends CNF for res.
func (t *TEFCard) Confirm(ctx context.Context, res CardResult) error {
	return t.resolve(ctx, res, t.c.Confirm)
}

// Undo sends NCN for res.
func (t *TEFCard) Undo(ctx context.Context, res CardResult) error {
	return t.resolve(ctx, res, t.c.Undo)
}

func (t *TEFCard) resolve(ctx context.Context, res CardResult, send func(context.Context, *tef.Message) error) error {
	err := send(ctx, echoOf(res))
	t.result(err)
	if errors.Is(err, tef.ErrNoStatus) {
		return &Error{Code: errTEFDown.Code, Kind: errTEFDown.Kind, Message: errTEFDown.Message, Err: err}
	}
	return err
}

// Leftovers reads the answer a crash left unread (file exchange only). An answer read is
// returned even when removing the stale files after it failed (a lock): its file is gone, so
// this is the only copy of an approval.
func (t *TEFCard) Leftovers(ctx context.Context) ([]CardResult, error) {
	m, err := t.c.Leftover(ctx)
	if m == nil {
		return nil, err
	}
	if cmd := strings.ToUpper(strings.TrimSpace(m.Command())); cmd != "CRT" {
		t.log.Info("TEF: a leftover answer to another operation: dropped", "command", cmd, "status", m.Value(9, 0))
		return nil, err
	}
	return []CardResult{resultOf(m)}, err
}

// The Ref keys of CardData: what CNF/NCN echo besides network and NSU.
const (
	refFinalizacao = "027"
	refAmount      = "003"
	refTimestamp   = "015"
	refStatus      = "009"
)

// resultOf reads a CRT response.
func resultOf(m *tef.Message) CardResult {
	r := CardResult{Approved: tef.Approved(m), Document: m.Value(2, 0), Code: strings.TrimSpace(m.Value(9, 0))}
	if cents, ok, err := m.Amount(3); ok && err == nil {
		r.Amount = Money(cents)
	}
	r.Message = strings.TrimSpace(m.Value(31, 0))
	if r.Message == "" {
		r.Message = strings.TrimSpace(m.Value(30, 0))
	}
	d := CardData{
		RequestID: m.RequestID(), Network: m.Value(10, 0), Brand: m.Value(40, 0), NSU: m.Value(12, 0),
		AuthCode: m.Value(13, 0), MaskedPAN: MaskPAN(m.Value(740, 0)), NeedsConfirm: tef.NeedsConfirmation(m),
		Ref: map[string]string{},
	}
	if n, err := strconv.Atoi(strings.TrimSpace(m.Value(18, 0))); err == nil && n > 1 && n <= 99 {
		d.Installments = n
	}
	for k, id := range map[string]int{refFinalizacao: 27, refAmount: 3, refTimestamp: 15, refStatus: 9} {
		if v := m.Value(id, 0); v != "" {
			d.Ref[k] = v
		}
	}
	receipt := m.Lines(28, 29)
	d.CustomerReceipt = firstNonEmpty(m.CopyLines(713), receipt)
	d.MerchantReceipt = firstNonEmpty(m.CopyLines(715), receipt)
	r.Data = d
	// A refusal that names a transaction to resolve (its NSU and finalização): the manager
	// holds a pending transaction and takes no sale until it is confirmed or undone.
	r.Pending = !r.Approved && d.NSU != "" && d.Ref[refFinalizacao] != ""
	return r
}

// echoOf is what CNF/NCN send back: 010, 012, 027 and 003 of the transaction.
func echoOf(res CardResult) *tef.Message {
	m := tef.New("CRT", 0)
	m.Set(10, 0, res.Data.Network)
	m.Set(12, 0, res.Data.NSU)
	m.Set(27, 0, res.Data.Ref[refFinalizacao])
	amount := res.Data.Ref[refAmount]
	if amount == "" && res.Amount > 0 {
		amount = tef.FormatAmount(int64(res.Amount))
	}
	m.Set(3, 0, amount)
	return m
}

func firstNonEmpty(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// MaskPAN returns a card number safe to keep: a value that is already masked is kept; one
// that holds 13 or more digits in a row (a full card number some manager let through) keeps
// only the first 6 and last 4 digits. A full card number is never stored.
func MaskPAN(s string) string {
	s = strings.TrimSpace(s)
	run, longest := 0, 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			run++
			longest = max(longest, run)
		} else if c != ' ' && c != '-' && c != '.' {
			run = 0
		}
	}
	if longest < 13 {
		return s
	}
	var digits []rune
	for _, c := range s {
		if c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	n := len(digits)
	return string(digits[:6]) + strings.Repeat("*", n-10) + string(digits[n-4:])
}
