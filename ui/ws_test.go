package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/totemd/totemd/sync/journal"
	"github.com/totemd/totemd/ui/client"
)

type wsMsg = client.Message

func (f *fixture) dial(t testing.TB, hdr http.Header) *websocket.Conn {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{"Authorization": {"Bearer " + testToken}}
	}
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+f.addr+"/ws", hdr)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, code)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t testing.TB, c *websocket.Conn) wsMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m wsMsg
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func send(t testing.TB, c *websocket.Conn, v any) {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// appendEvents commits n test events and returns their seqs.
func appendEvents(t testing.TB, s *journal.Store, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; i < n; i++ {
		evs, err := s.Update(func(tx *journal.Tx) error {
			_, err := tx.Append(journal.Event{Type: "test.tick", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, evs[0].Seq)
	}
	return seqs
}

func TestWSHelloReplayAndResume(t *testing.T) {
	f := newFixture(t)
	seqs := appendEvents(t, f.store, 5)

	c := f.dial(t, nil)
	send(t, c, map[string]any{"type": "hello", "id": "h1", "since": 0})
	h := read(t, c)
	if h.Type != "hello" || h.ID != "h1" || h.Protocol != ProtocolVersion || *h.LastSeq != seqs[4] {
		t.Fatalf("hello answer %+v", h)
	}
	for _, want := range seqs {
		if m := read(t, c); m.Type != "event" || m.Seq != want || m.Event != "test.tick" {
			t.Fatalf("replay: got %+v, want seq %d", m, want)
		}
	}
	// Live events arrive after the replay.
	live := appendEvents(t, f.store, 2)
	for _, want := range live {
		if m := read(t, c); m.Seq != want {
			t.Fatalf("live: got seq %d, want %d", m.Seq, want)
		}
	}
	c.Close()

	// Events committed while disconnected are replayed from since, exactly once, in order.
	missed := appendEvents(t, f.store, 3)
	c2 := f.dial(t, nil)
	send(t, c2, map[string]any{"type": "hello", "id": "h2", "since": live[1]})
	if m := read(t, c2); m.Type != "hello" {
		t.Fatalf("want hello, got %+v", m)
	}
	for _, want := range missed {
		if m := read(t, c2); m.Seq != want {
			t.Fatalf("resume: got seq %d, want %d", m.Seq, want)
		}
	}

	// A client ahead of this journal (another kiosk's state) is told to reset.
	c3 := f.dial(t, nil)
	send(t, c3, map[string]any{"type": "hello", "id": "h3", "since": 1_000_000})
	read(t, c3)
	if m := read(t, c3); m.Type != "reset" {
		t.Fatalf("want reset for a since ahead of the journal, got %+v", m)
	}
}

func TestWSCommands(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t, nil)
	send(t, c, map[string]any{"type": "session.create", "id": "1",
		"items": []map[string]any{{"sku": "CONSULTA", "name": "Consulta", "unit_cents": 15000, "qty": 1}}})
	m := read(t, c)
	if m.Type != "reply" || m.ID != "1" || m.OK == nil || !*m.OK {
		t.Fatalf("create reply %+v", m)
	}
	var sess struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal(m.Data, &sess); err != nil || sess.State != "open" {
		t.Fatalf("create data %s: %v", m.Data, err)
	}

	cases := []struct {
		msg  any
		typ  string
		code string
	}{
		{map[string]any{"type": "session.get", "id": "2", "session_id": "NOPE"}, "reply", "session.not_found"},
		{map[string]any{"type": "session.pay", "id": "3", "session_id": sess.ID, "method": "cheque"}, "reply", "payment.invalid_method"},
		{map[string]any{"type": "fly", "id": "4"}, "reply", "ws.unknown_command"},
		{map[string]any{"id": "5"}, "error", "ws.bad_message"},
		{map[string]any{"type": "session.create", "id": "6", "items": "lots"}, "error", "ws.bad_message"},
		{map[string]any{"type": "ping", "id": "7"}, "reply", ""},
		{map[string]any{"type": "status", "id": "8"}, "reply", ""},
		{map[string]any{"type": "session.cancel", "id": "9", "session_id": sess.ID}, "reply", ""},
		{map[string]any{"type": "session.cancel", "id": "10", "session_id": sess.ID}, "reply", "session.conflict"},
	}
	for _, cs := range cases {
		send(t, c, cs.msg)
		m := read(t, c)
		if m.Type != cs.typ {
			t.Fatalf("%v: type %s, want %s (%+v)", cs.msg, m.Type, cs.typ, m)
		}
		if cs.code == "" && (m.OK == nil || !*m.OK) {
			t.Fatalf("%v: want ok, got %+v", cs.msg, m)
		}
		if cs.code != "" && (m.Error == nil || m.Error.Code != cs.code || m.Error.Message == "") {
			t.Fatalf("%v: want error %s, got %+v", cs.msg, cs.code, m)
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m.Type != "error" || m.Error.Code != "ws.bad_message" {
		t.Fatalf("garbage frame: %+v", m)
	}
	send(t, c, map[string]any{"type": "hello", "id": "h"})
	read(t, c)
	send(t, c, map[string]any{"type": "hello", "id": "h2"})
	for {
		m := read(t, c)
		if m.Type == "event" {
			continue
		}
		if m.Error == nil || m.Error.Code != "ws.hello_twice" {
			t.Fatalf("second hello: %+v", m)
		}
		break
	}
}

func TestWSUpgradeGuard(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		hdr  http.Header
		code int
	}{
		{"foreign origin", http.Header{"Origin": {"http://evil.example"}}, 403},
		{"foreign origin with token", http.Header{"Origin": {"http://evil.example"}, "Authorization": {"Bearer " + testToken}}, 403},
		{"no credentials", http.Header{}, 401},
		{"own origin", http.Header{"Origin": {"http://127.0.0.1:" + f.port}}, 101},
		{"token", http.Header{"Authorization": {"Bearer " + testToken}}, 101},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, resp, err := websocket.DefaultDialer.Dial("ws://"+f.addr+"/ws", c.hdr)
			if conn != nil {
				conn.Close()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.code)
			}
		})
	}
}

func TestWSShutdownGoesAway(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t, nil)
	send(t, c, map[string]any{"type": "hello", "id": "h"})
	read(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _ = f.srv.Shutdown(ctx) }()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("want a 1001 close, got %v", err)
		}
		return
	}
}

func TestWSQueueOverflowDropsClient(t *testing.T) {
	f := newFixture(t)
	wc := &wsConn{s: f.srv, send: make(chan outgoing, 2), queueWait: 50 * time.Millisecond, done: make(chan struct{}), cancel: func() {}}
	before := f.srv.metrics.wsDropped.Load()
	wc.queue(outgoing{msg: ServerMessage{Type: "reply"}})
	wc.queue(outgoing{msg: ServerMessage{Type: "reply"}})
	select {
	case <-wc.done:
		t.Fatal("dropped before the queue was full")
	default:
	}
	// The writer makes room while the reply waits: nobody is dropped.
	took := make(chan struct{})
	go func() {
		<-wc.send
		close(took)
	}()
	wc.queue(outgoing{msg: ServerMessage{Type: "reply"}})
	<-took
	if wc.dropped {
		t.Fatal("dropped although the writer made room")
	}
	// No room for longer than queueWait: dropped, counted, marked for the 1013 close.
	wc.queue(outgoing{msg: ServerMessage{Type: "reply"}})
	select {
	case <-wc.done:
	default:
		t.Fatal("a full queue did not drop the client")
	}
	if !wc.dropped || f.srv.metrics.wsDropped.Load() != before+1 {
		t.Fatal("drop not marked or not counted")
	}
}

func TestDecodeClientMessage(t *testing.T) {
	cases := []struct {
		in   string
		ok   bool
		typ  string
		want string
	}{
		{`{"type":"ping","id":"1"}`, true, "ping", ""},
		{`{"type":"hello","since":12}`, true, "hello", ""},
		{`{}`, false, "", "type"},
		{`[]`, false, "", "not a JSON object"},
		{`{"type":"ping","id":"` + string(make([]byte, 65)) + `"}`, false, "", ""},
		{`{"type":1}`, false, "", "not a JSON object"},
	}
	for _, c := range cases {
		m, err := DecodeClientMessage([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok=%v", c.in, err, c.ok)
		}
		if c.ok && m.Type != c.typ {
			t.Errorf("%q: type %q", c.in, m.Type)
		}
	}
}

func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{`{"type":"hello","id":"1","since":3}`, `{"type":"session.create","items":[{"sku":"A","unit_cents":1,"qty":1}]}`, `{`, `null`, `{"type":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeClientMessage(b)
		if err == nil && m.Type == "" {
			t.Fatalf("accepted a message without type: %q", b)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// BenchmarkEventFanout10 measures one committed event (fsync on) reaching 10 WebSocket
// clients: the time from Update to the tenth client having read it.
func BenchmarkEventFanout10(b *testing.B) {
	f := newFixture(b)
	const clients = 10
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = f.dial(b, nil)
		send(b, conns[i], map[string]any{"type": "hello", "id": "h", "since": f.store.LastSeq()})
		read(b, conns[i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq := appendEvents(b, f.store, 1)[0]
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				for {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					var m wsMsg
					if err := c.ReadJSON(&m); err != nil {
						b.Error(err)
						return
					}
					if m.Seq == seq {
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
