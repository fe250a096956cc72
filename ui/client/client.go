// Package client is the Go client of totemd's local API (REST and WebSocket protocol v1),
// used by the CLI and the integration tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/sync/journal"
)

// Client talks to one daemon.
type Client struct {
	base  string // http://127.0.0.1:8787
	token string
	http  *http.Client
}

// New returns a client of the daemon at addr (host:port) authenticating with token.
func New(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an error answer of the API.
type Error struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message) }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code, e.Message = "http."+strconv.Itoa(resp.StatusCode), string(data)
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Status is GET /api/v1/status, as raw JSON fields.
func (c *Client) Status(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &out)
}

// CreateSession opens a session.
func (c *Client) CreateSession(ctx context.Context, items []payment.Item) (*payment.Session, error) {
	var s payment.Session
	return &s, c.do(ctx, http.MethodPost, "/api/v1/sessions", map[string]any{"items": items}, &s)
}

// Session reads one session.
func (c *Client) Session(ctx context.Context, id string) (*payment.Session, error) {
	var s payment.Session
	return &s, c.do(ctx, http.MethodGet, "/api/v1/sessions/"+url.PathEscape(id), nil, &s)
}

// Sessions lists sessions, newest first.
func (c *Client) Sessions(ctx context.Context, o payment.ListOptions) ([]*payment.Session, error) {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Before != "" {
		q.Set("before", o.Before)
	}
	if o.State != "" {
		q.Set("state", string(o.State))
	}
	var out struct {
		Sessions []*payment.Session `json:"sessions"`
	}
	return out.Sessions, c.do(ctx, http.MethodGet, "/api/v1/sessions?"+q.Encode(), nil, &out)
}

// Pay starts a payment attempt.
func (c *Client) Pay(ctx context.Context, id string, req payment.PayRequest) (*payment.Session, error) {
	var s payment.Session
	return &s, c.do(ctx, http.MethodPost, "/api/v1/sessions/"+url.PathEscape(id)+"/pay", req, &s)
}

// Cancel cancels a session.
func (c *Client) Cancel(ctx context.Context, id string) (*payment.Session, error) {
	var s payment.Session
	return &s, c.do(ctx, http.MethodPost, "/api/v1/sessions/"+url.PathEscape(id)+"/cancel", struct{}{}, &s)
}

// Events reads the event log after seq.
func (c *Client) Events(ctx context.Context, after uint64, limit int) ([]journal.Event, error) {
	var out struct {
		Events []journal.Event `json:"events"`
	}
	return out.Events, c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/events?after=%d&limit=%d", after, limit), nil, &out)
}

// DemoPixPay makes the demo PSP pay a charge (demo mode only).
func (c *Client) DemoPixPay(ctx context.Context, txid string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/demo/pix/"+url.PathEscape(txid)+"/pay", struct{}{}, nil)
}

// DemoPaperOut empties or refills the demo printer (demo mode only).
func (c *Client) DemoPaperOut(ctx context.Context, out bool) error {
	return c.do(ctx, http.MethodPost, "/api/v1/demo/printer", map[string]bool{"paper_out": out}, nil)
}

// Message is a WebSocket message from the server.
type Message struct {
	Type     string          `json:"type"`
	ID       string          `json:"id"`
	OK       *bool           `json:"ok"`
	Error    *Error          `json:"error"`
	Data     json.RawMessage `json:"data"`
	Protocol int             `json:"protocol"`
	LastSeq  *uint64         `json:"last_seq"`
	FirstSeq *uint64         `json:"first_seq"`
	Seq      uint64          `json:"seq"`
	Event    string          `json:"event"`
	Session  string          `json:"session_id"`
	Payload  json.RawMessage `json:"payload"`
}

// WS is a WebSocket connection speaking protocol v1. It is not safe for concurrent use.
type WS struct {
	c *websocket.Conn
}

// Dial connects with the bearer token (or, when origin is set, as a browser of that origin).
func (c *Client) Dial(ctx context.Context, origin string) (*WS, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	} else {
		h.Set("Authorization", "Bearer "+c.token)
	}
	u := "ws" + c.base[len("http"):] + "/ws"
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	return &WS{c: conn}, nil
}

// Send writes a command.
func (w *WS) Send(msg map[string]any) error { return w.c.WriteJSON(msg) }

// Hello sends hello{since} and returns the server's answer.
func (w *WS) Hello(ctx context.Context, since uint64) (Message, error) {
	if err := w.Send(map[string]any{"type": "hello", "id": "hello", "since": since}); err != nil {
		return Message{}, err
	}
	m, err := w.Next(ctx)
	if err == nil && m.Type != "hello" {
		err = fmt.Errorf("expected hello, got %s", m.Type)
	}
	return m, err
}

// Next reads the next message, until ctx ends.
func (w *WS) Next(ctx context.Context) (Message, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = w.c.SetReadDeadline(dl)
	} else {
		_ = w.c.SetReadDeadline(time.Time{})
	}
	var m Message
	_, data, err := w.c.ReadMessage()
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("bad message %q: %w", data, err)
	}
	return m, nil
}

// Close closes the connection.
func (w *WS) Close() error { return w.c.Close() }

// TEFPending is GET /api/v1/tef/pending: the card attempts not settled with the TEF manager,
// and whether start-up recovery is done.
func (c *Client) TEFPending(ctx context.Context) ([]payment.PendingCard, bool, error) {
	var out struct {
		Pending   []payment.PendingCard `json:"pending"`
		Recovered bool                  `json:"recovered"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/tef/pending", nil, &out)
	return out.Pending, out.Recovered, err
}

// TEFResolve is POST /api/v1/tef/pending/{id}/{n}: action undo, confirm or close.
func (c *Client) TEFResolve(ctx context.Context, id string, n int, action string) (*payment.Session, error) {
	var s payment.Session
	return &s, c.do(ctx, http.MethodPost, "/api/v1/tef/pending/"+url.PathEscape(id)+"/"+strconv.Itoa(n),
		map[string]string{"action": action}, &s)
}

// CardResult is POST /api/v1/sessions/{id}/card-result: a Smart POS result.
func (c *Client) CardResult(ctx context.Context, id string, r payment.ExternalCardResult) (*payment.Session, error) {
	var s payment.Session
	return &s, c.do(ctx, http.MethodPost, "/api/v1/sessions/"+url.PathEscape(id)+"/card-result", r, &s)
}
