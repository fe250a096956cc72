package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/ui/client"
)

var ticketRe = regexp.MustCompile(`^A\d{3}$`)

// TestDaemonEndToEnd drives one customer through Pix over REST and the WebSocket, then drops the
// WebSocket in the middle of a card payment and checks that hello{since} replays exactly the
// events that were missed.
func TestDaemonEndToEnd(t *testing.T) {
	t.Parallel()
	d := startDemo(t, filepath.Join(t.TempDir(), "state"))

	// Health.
	code, body := d.request("GET", "/healthz", "", nil)
	var hz struct {
		Status   string `json:"status"`
		Critical int    `json:"critical_conditions"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &hz) != nil || hz.Status != "ok" || hz.Critical != 0 {
		t.Fatalf("GET /healthz = %d %s", code, body)
	}

	// A session over REST, with the kiosk's exact body.
	hdr := d.bearer()
	hdr["Content-Type"] = "application/json"
	code, body = d.request("POST", "/api/v1/sessions", consultaJSON, hdr)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/sessions = %d %s", code, body)
	}
	s1 := sessionOf(body)
	if s1 == nil || s1.State != payment.StateOpen || s1.TotalCents != 15000 || s1.Version != 1 || !payment.ValidID(s1.ID) {
		t.Fatalf("created session: %s", body)
	}

	// The WebSocket sees it from seq 0.
	ws := dialWS(t, d)
	h := ws.hello(0)
	if *h.LastSeq < 1 {
		t.Fatalf("hello last_seq = %d after a create", *h.LastSeq)
	}
	m, _ := ws.waitEvent("session.created", func(m client.Message, s *payment.Session) bool {
		return m.Event == payment.EventSessionCreated && m.Session == s1.ID
	})
	if m.Seq != 1 {
		t.Errorf("the first session.created has seq %d, want 1", m.Seq)
	}

	// Pay with Pix over the WebSocket.
	got := okSession(t, ws.cmd(map[string]any{"type": "session.pay", "session_id": s1.ID, "method": "pix"}))
	if got.State != payment.StatePaying || len(got.Attempts) != 1 || got.Attempts[0].Method != payment.MethodPix {
		t.Fatalf("pay reply: %+v", got)
	}
	_, active := ws.waitEvent("attempt active", func(m client.Message, s *payment.Session) bool {
		return s != nil && s.ID == s1.ID && s.Current() != nil && s.Current().State == payment.AttemptActive
	})
	pix := active.Current().Pix
	if pix == nil || pix.TxID != payment.PixTxID(s1.ID, 1) || pix.BRCode == "" || pix.ExpiresAt.IsZero() {
		t.Fatalf("active Pix attempt: %+v", pix)
	}
	if err := d.c.DemoPixPay(ctxT(t), pix.TxID); err != nil {
		t.Fatalf("demo pay: %v", err)
	}
	paid, ps := ws.waitEvent("session paid", func(m client.Message, s *payment.Session) bool {
		return s != nil && s.ID == s1.ID && s.State != payment.StatePaying
	})
	if paid.Event != payment.EventSessionState || ps.State != payment.StatePaid || ps.PaidAt.IsZero() ||
		ps.Current().State != payment.AttemptConcluded || ps.Current().Pix.E2EID == "" {
		t.Fatalf("after the Pix payment, expected a session.state event with state paid; got %s %+v", paid.Event, ps)
	}
	ful, fs := ws.waitEvent("session fulfilled", func(m client.Message, s *payment.Session) bool {
		return s != nil && s.ID == s1.ID && s.State != payment.StatePaid
	})
	if ful.Event != payment.EventSessionState || fs.State != payment.StateFulfilled || !ticketRe.MatchString(fs.Ticket) {
		t.Fatalf("after paid, expected session.state fulfilled with a ticket; got %s state %s ticket %q", ful.Event, fs.State, fs.Ticket)
	}
	rest, err := d.c.Session(ctxT(t), s1.ID)
	if err != nil || rest.State != payment.StateFulfilled || rest.Ticket != fs.Ticket || rest.Version != fs.Version {
		t.Fatalf("GET session after fulfilment: %+v, %v (event had version %d ticket %s)", rest, err, fs.Version, fs.Ticket)
	}
	// A charge that was paid cannot be paid again.
	if err := d.c.DemoPixPay(ctxT(t), pix.TxID); err == nil {
		t.Errorf("paying a concluded charge again succeeded")
	}

	// Drop the WebSocket in the middle of a card payment.
	s2 := okSession(t, ws.cmd(map[string]any{"type": "session.create", "items": consulta}))
	ws.waitEvent("session 2 created", func(m client.Message, s *payment.Session) bool {
		return m.Event == payment.EventSessionCreated && m.Session == s2.ID
	})
	if err := ws.ws.Send(map[string]any{"type": "session.pay", "id": "pay2", "session_id": s2.ID, "method": "credit"}); err != nil {
		t.Fatal(err)
	}
	ws.waitEvent("the first event of the card payment", func(m client.Message, s *payment.Session) bool { return true })
	lastSeen := ws.last
	seen := map[uint64]bool{}
	for _, e := range ws.events {
		seen[e.Seq] = true
	}
	_ = ws.ws.Close()

	done := waitSession(t, d.c, s2.ID, "fulfilled by card", func(s *payment.Session) bool { return s.State == payment.StateFulfilled })
	if a := done.Current(); a.Method != payment.MethodCredit || a.State != payment.AttemptConfirmed || a.Card == nil || a.Card.NSU == "" || !ticketRe.MatchString(done.Ticket) {
		t.Fatalf("card attempt: %+v", done)
	}

	// Reconnect where we left off.
	ws2 := dialWS(t, d)
	h2 := ws2.hello(lastSeen)
	if *h2.LastSeq <= lastSeen {
		t.Fatalf("hello last_seq %d: the card payment's later events are missing (last seen %d)", *h2.LastSeq, lastSeen)
	}
	for ws2.last < *h2.LastSeq {
		ws2.read()
	}
	missed := ws2.events
	log := allEvents(t, d.c, lastSeen, 3)
	// Only what existed at hello time is compared: the log may have grown since.
	for len(log) > 0 && log[len(log)-1].Seq > *h2.LastSeq {
		log = log[:len(log)-1]
	}
	if len(missed) != len(log) {
		t.Fatalf("replayed %d events after %d, the log has %d", len(missed), lastSeen, len(log))
	}
	sawFulfilled := false
	for i, m := range missed {
		e := log[i]
		if seen[m.Seq] {
			t.Errorf("event %d was delivered before the drop and again after hello{since:%d}", m.Seq, lastSeen)
		}
		if m.Seq != e.Seq || m.Event != e.Type || m.Session != e.SessionID || compact(t, m.Payload) != compact(t, e.Data) {
			t.Errorf("replayed event %d (%s %s) differs from the log's %d (%s %s)", m.Seq, m.Event, m.Session, e.Seq, e.Type, e.SessionID)
		}
		if s := sessionOf(m.Payload); s != nil && s.ID == s2.ID && s.State == payment.StateFulfilled {
			sawFulfilled = true
		}
	}
	if !sawFulfilled {
		t.Errorf("the replay does not contain session 2's fulfilment")
	}

	// A client that saw more than this journal ever had is told to reset.
	ws3 := dialWS(t, d)
	if err := ws3.ws.Send(map[string]any{"type": "hello", "id": "h", "since": *h2.LastSeq + 1000}); err != nil {
		t.Fatal(err)
	}
	if m, err := ws3.ws.Next(ctxT(t)); err != nil || m.Type != "hello" {
		t.Fatalf("hello: %+v %v", m, err)
	}
	if m, err := ws3.ws.Next(ctxT(t)); err != nil || m.Type != "reset" {
		t.Fatalf("after a hello from the future, want reset; got %+v %v", m, err)
	}
	// Commands still answer on a live connection.
	if r := ws2.cmd(map[string]any{"type": "ping"}); r.OK == nil || !*r.OK {
		t.Errorf("ping: %+v", r)
	}
	if r := ws2.cmd(map[string]any{"type": "session.get", "session_id": "nope"}); r.OK == nil || *r.OK || r.Error == nil || r.Error.Code != "session.not_found" {
		t.Errorf("session.get of an unknown id: %+v", r)
	}
}
