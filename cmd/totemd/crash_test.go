package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/ui/client"
)

// acks is what the daemon acknowledged before it was killed: per session, the highest version
// seen in an API answer or a WebSocket event; the events the WebSocket delivered.
type acks struct {
	mu      sync.Mutex
	version map[string]int64
	state   map[string]payment.State
	events  map[uint64]client.Message
	maxSeq  uint64
}

func (a *acks) session(s *payment.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.Version > a.version[s.ID] {
		a.version[s.ID], a.state[s.ID] = s.Version, s.State
	}
}

func (a *acks) event(m client.Message) {
	a.mu.Lock()
	a.events[m.Seq] = m
	a.maxSeq = max(a.maxSeq, m.Seq)
	a.mu.Unlock()
	if s := sessionOf(m.Payload); s != nil {
		a.session(s)
	}
}

// TestCrashKill9 SIGKILLs the daemon while sessions are being created and a card payment is in
// the PIN pad, restarts it on the same state directory and checks that nothing acknowledged was
// lost, that the event log is whole, and that interrupted payments are resolved.
func TestCrashKill9(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	d := startDemo(t, dir)
	ack := &acks{version: map[string]int64{}, state: map[string]payment.State{}, events: map[uint64]client.Message{}}

	// Follow the event stream: whatever was delivered was committed first.
	ws, err := d.c.Dial(ctxT(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Hello(ctxT(t), 0); err != nil {
		t.Fatal(err)
	}
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		for {
			m, err := ws.Next(context.Background())
			if err != nil {
				return // the daemon died
			}
			if m.Type == "event" {
				ack.event(m)
			}
		}
	}()

	c := d.c
	create := func(items []payment.Item) *payment.Session {
		t.Helper()
		s, err := c.CreateSession(ctxT(t), items)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		ack.session(s)
		return s
	}
	pay := func(id string, m payment.Method) *payment.Session {
		t.Helper()
		s, err := c.Pay(ctxT(t), id, payment.PayRequest{Method: m})
		if err != nil {
			t.Fatalf("pay %s %s: %v", id, m, err)
		}
		ack.session(s)
		return s
	}
	wait := func(id, what string, cond func(*payment.Session) bool) *payment.Session {
		t.Helper()
		s := waitSession(t, c, id, what, cond)
		ack.session(s)
		return s
	}
	pixActive := func(s *payment.Session) bool {
		return s.Current() != nil && s.Current().State == payment.AttemptActive
	}
	isState := func(st payment.State) func(*payment.Session) bool {
		return func(s *payment.Session) bool { return s.State == st }
	}

	open := create(consulta)
	cancelled := create(consulta)
	if s, err := c.Cancel(ctxT(t), cancelled.ID); err != nil {
		t.Fatal(err)
	} else {
		ack.session(s)
	}
	cardPaid := create(consulta)
	pay(cardPaid.ID, payment.MethodCredit)
	cardDeclined := create(declined)
	pay(cardDeclined.ID, payment.MethodDebit)
	pixPaid := create(consulta)
	pay(pixPaid.ID, payment.MethodPix)
	a := wait(pixPaid.ID, "with an active Pix charge", pixActive).Current()
	if err := c.DemoPixPay(ctxT(t), a.Pix.TxID); err != nil {
		t.Fatal(err)
	}
	pixCancelled := create(consulta)
	pay(pixCancelled.ID, payment.MethodPix)
	wait(pixCancelled.ID, "with an active Pix charge", pixActive)
	if s, err := c.Cancel(ctxT(t), pixCancelled.ID); err != nil {
		t.Fatal(err)
	} else {
		ack.session(s)
	}
	wait(pixPaid.ID, "fulfilled", isState(payment.StateFulfilled))
	wait(cardPaid.ID, "fulfilled", isState(payment.StateFulfilled))
	wait(cardDeclined.ID, "open after the decline", func(s *payment.Session) bool {
		return s.State == payment.StateOpen && len(s.Attempts) == 1 && s.Attempts[0].State == payment.AttemptDeclined
	})
	// Retry the declined session by card: still in the PIN pad when the daemon dies.
	inPinPad := pay(cardDeclined.ID, payment.MethodCredit)
	if inPinPad.Current().State != payment.AttemptRequested {
		t.Fatalf("card attempt: %+v", inPinPad.Current())
	}

	// Creates keep coming while the process is killed.
	var mu sync.Mutex
	var created []string
	enough := make(chan struct{})
	var loops sync.WaitGroup
	for range 2 {
		loops.Go(func() {
			for {
				s, err := c.CreateSession(context.Background(), consulta)
				if err != nil {
					return // the daemon died under us
				}
				ack.session(s)
				mu.Lock()
				created = append(created, s.ID)
				if len(created) == 20 {
					close(enough)
				}
				mu.Unlock()
			}
		})
	}
	<-enough
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	loops.Wait()
	<-followed
	if ws := d.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("totemd was not killed: %v", d.cmd.ProcessState)
	}
	t.Logf("killed after %d acknowledged creates; %d events delivered, last seq %d", len(created), len(ack.events), ack.maxSeq)

	// Files the crash left behind keep their permissions.
	for name, want := range map[string]fs.FileMode{"journal.db": 0o600, "api.token": 0o600, ".": 0o700 | fs.ModeDir} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode(), want)
		}
	}

	// The CLI reads the journal of the dead daemon (its api.addr is stale).
	out, errOut, code := runCLI(t, "sessions", "ls", "--json", "--limit", "1000", "--state-dir", dir)
	var listed []*payment.Session
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil {
		t.Fatalf("sessions ls after the crash: exit %d\n%s%s", code, out, errOut)
	}
	inList := map[string]bool{}
	for _, s := range listed {
		inList[s.ID] = true
	}
	for id := range ack.version {
		if !inList[id] {
			t.Errorf("session %s, acknowledged before the crash, is not in the journal (CLI)", id)
		}
	}

	// Restart on the same state dir.
	d2 := startDemo(t, dir)
	c2 := d2.c
	for id, v := range ack.version {
		s, err := c2.Session(ctxT(t), id)
		if err != nil {
			t.Errorf("session %s (acknowledged at version %d, %s) after restart: %v", id, v, ack.state[id], err)
			continue
		}
		if s.Version < v {
			t.Errorf("session %s: version %d after restart, %d was acknowledged", id, s.Version, v)
		}
	}
	for _, id := range created {
		if _, ok := ack.version[id]; !ok {
			t.Errorf("acknowledged create %s was not recorded", id)
		}
	}

	// Interrupted work is resumed or resolved.
	wait2 := func(id, what string, cond func(*payment.Session) bool) *payment.Session {
		t.Helper()
		return waitSession(t, c2, id, what, cond)
	}
	wait2(pixPaid.ID, "fulfilled", isState(payment.StateFulfilled))
	wait2(cardPaid.ID, "fulfilled", isState(payment.StateFulfilled))
	wait2(cancelled.ID, "cancelled", isState(payment.StateCancelled))
	wait2(pixCancelled.ID, "cancelled", isState(payment.StateCancelled))
	wait2(open.ID, "open", isState(payment.StateOpen))
	s := wait2(cardDeclined.ID, "resolved (no card attempt left in the PIN pad)", func(s *payment.Session) bool {
		return s.State != payment.StatePaying && (s.Current().State.Final() || s.Current().State == payment.AttemptUnknown)
	})
	// Killed while the PIN pad had the sale: its outcome is unknown until the manager resolves
	// it (never "nothing was charged"); killed after the answer: declined, as the manager said.
	switch a := s.Current(); {
	case s.State != payment.StateOpen:
		t.Errorf("card attempt interrupted by the crash: session %s, want open", s.State)
	case a.State == payment.AttemptUnknown && (a.Problem == nil || a.Problem.Code != "tef.unknown"):
		t.Errorf("unknown card attempt with problem %+v, want tef.unknown", a.Problem)
	case a.State != payment.AttemptUnknown && a.State != payment.AttemptDeclined:
		t.Errorf("card attempt interrupted by the crash: %s %+v; want unknown (tef.unknown) or declined", a.State, a.Problem)
	}

	// The event log: contiguous from 1, each event as it was delivered before the crash, every
	// session.created once and for an existing session, versions counted by their events.
	log := allEvents(t, c2, 0, 37)
	if len(log) == 0 || log[len(log)-1].Seq < ack.maxSeq {
		t.Fatalf("the log ends before the last delivered event %d", ack.maxSeq)
	}
	createdEv := map[string]bool{}
	nEvents := map[string]int64{}
	for i, e := range log {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event #%d has seq %d: the log is not contiguous from 1", i+1, e.Seq)
		}
		if m, ok := ack.events[e.Seq]; ok && (m.Event != e.Type || m.Session != e.SessionID || compact(t, m.Payload) != compact(t, e.Data)) {
			t.Errorf("event %d was delivered as %s %s before the crash, the log now has %s %s", e.Seq, m.Event, m.Session, e.Type, e.SessionID)
		}
		switch e.Type {
		case payment.EventSessionCreated:
			if createdEv[e.SessionID] {
				t.Errorf("session %s created twice (seq %d)", e.SessionID, e.Seq)
			}
			createdEv[e.SessionID] = true
			fallthrough
		case payment.EventSessionState, payment.EventSessionAttempt:
			nEvents[e.SessionID]++
			if s := sessionOf(e.Data); s == nil || s.ID != e.SessionID || s.Version != nEvents[e.SessionID] {
				t.Errorf("event %d (%s %s): payload version is not the session's event count %d", e.Seq, e.Type, e.SessionID, nEvents[e.SessionID])
			}
		}
	}
	sessions := allSessions(t, c2)
	inAPI := map[string]bool{}
	for _, s := range sessions {
		if inAPI[s.ID] {
			t.Errorf("session %s listed twice", s.ID)
		}
		inAPI[s.ID] = true
		if !createdEv[s.ID] {
			t.Errorf("session %s has no session.created event", s.ID)
		}
	}
	for id := range createdEv {
		if !inAPI[id] {
			t.Errorf("session.created for %s, but the session does not exist", id)
		}
	}
	for id := range ack.version {
		if !createdEv[id] {
			t.Errorf("acknowledged session %s has no session.created event", id)
		}
	}
	// Versions are re-read at the end: recovery may have moved sessions on meanwhile.
	for _, s := range allSessions(t, c2) {
		if n := nEvents[s.ID]; s.Version < n {
			t.Errorf("session %s: version %d but %d events", s.ID, s.Version, n)
		}
	}
	for name, want := range map[string]fs.FileMode{"journal.db": 0o600, "api.token": 0o600} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode() != want {
			t.Errorf("%s after restart: %v %v; want %v", name, fi.Mode(), err, want)
		}
	}
}
