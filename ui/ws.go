package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/sync/journal"
)

// WebSocket limits.
const (
	wsReadLimit  = 64 << 10
	wsWriteWait  = 10 * time.Second
	wsPongWait   = 60 * time.Second
	wsPingEvery  = 25 * time.Second
	wsQueueSize  = 64               // replies waiting to be written
	wsQueueWait  = 10 * time.Second // a reply waiting this long for room drops the client
	wsEventBatch = 256              // events read from the journal at a time
)

// ClientMessage is a command from a WebSocket client. Fields beyond type and id depend on type.
type ClientMessage struct {
	Type      string         `json:"type"`
	ID        string         `json:"id,omitempty"`
	Since     *uint64        `json:"since,omitempty"`
	SessionID string         `json:"session_id,omitempty"`
	Items     []payment.Item `json:"items,omitempty"`
	Method    payment.Method `json:"method,omitempty"`
	Installm  int            `json:"installments,omitempty"`
}

// ServerMessage is everything the server sends: replies to commands, events, resets, errors.
type ServerMessage struct {
	Type     string          `json:"type"` // hello | reply | event | reset | error
	ID       string          `json:"id,omitempty"`
	OK       *bool           `json:"ok,omitempty"`
	Error    *apiError       `json:"error,omitempty"`
	Data     any             `json:"data,omitempty"`
	Protocol int             `json:"protocol,omitempty"`
	KioskID  string          `json:"kiosk_id,omitempty"`
	LastSeq  *uint64         `json:"last_seq,omitempty"`
	FirstSeq *uint64         `json:"first_seq,omitempty"`
	Seq      uint64          `json:"seq,omitempty"`
	Event    string          `json:"event,omitempty"`
	Session  string          `json:"session_id,omitempty"`
	Time     *time.Time      `json:"time,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// DecodeClientMessage parses one client frame strictly, saying what is wrong in words.
func DecodeClientMessage(b []byte) (ClientMessage, error) {
	var m ClientMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a JSON object: %s", jsonProblem(err))
	}
	if m.Type == "" {
		return m, errors.New(`missing "type"`)
	}
	if len(m.ID) > 64 {
		return m, errors.New(`"id" longer than 64 characters`)
	}
	return m, nil
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 16 << 10,
	// guard has already checked Origin against the exact allowlist (or the bearer token for
	// clients without one); gorilla's same-host default would be weaker and redundant.
	CheckOrigin: func(*http.Request) bool { return true },
}

// outgoing is what the reader hands the writer, in order: a reply, or the client's hello (the
// writer answers it and starts the replay, so the hello answer comes before any later reply).
type outgoing struct {
	msg   ServerMessage
	hello *ClientMessage
}

type wsConn struct {
	s         *Server
	c         *websocket.Conn
	remote    string
	send      chan outgoing
	queueWait time.Duration
	dropped   bool          // set before done closes when the client was too slow
	done      chan struct{} // closed when the connection ends
	once      sync.Once
	bye       chan struct{}   // closed by Shutdown: send a going-away close
	cmdCtx    context.Context // commands run in it: cancelled when the connection ends or the server stops
	cancel    context.CancelFunc
	byeMu     sync.Once
	wg        sync.WaitGroup
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, "api.shutting_down", "totemd is stopping; reconnect in a moment.")
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c.SetReadLimit(wsReadLimit)
	wc := &wsConn{s: s, c: c, remote: r.RemoteAddr, send: make(chan outgoing, wsQueueSize), queueWait: wsQueueWait,
		done: make(chan struct{}), bye: make(chan struct{})}
	wc.cmdCtx, wc.cancel = context.WithCancel(context.Background())
	s.mu.Lock()
	if s.closed { // Shutdown began during the upgrade: it would neither tell nor wait for us
		s.mu.Unlock()
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "totemd is stopping"), time.Now().Add(time.Second))
		_ = c.Close()
		wc.cancel()
		return
	}
	// Counted before Shutdown can see the conn (it takes s.mu too): its wait must never run
	// ahead of this Add.
	wc.wg.Add(2)
	s.conns[wc] = struct{}{}
	s.mu.Unlock()
	s.metrics.wsClients.Add(1)
	go wc.reader()
	go wc.writer()
	go func() {
		wc.wg.Wait()
		s.metrics.wsClients.Add(-1)
		s.mu.Lock()
		delete(s.conns, wc)
		s.mu.Unlock()
	}()
}

func (wc *wsConn) end() {
	wc.once.Do(func() {
		close(wc.done)
		wc.cancel()
	})
}

func (wc *wsConn) goAway() {
	wc.byeMu.Do(func() {
		close(wc.bye)
		wc.cancel()
	})
}

func (wc *wsConn) wait(ctx context.Context) {
	ch := make(chan struct{})
	go func() { wc.wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-ctx.Done():
		_ = wc.c.Close()
	}
}

// queue hands a message to the writer, waiting for room: a client that sends commands faster
// than it reads the replies slows its own reader down. One that leaves a reply waiting longer
// than queueWait is dropped (close 1013: try again later); it reconnects and resumes.
func (wc *wsConn) queue(o outgoing) {
	select {
	case wc.send <- o:
		return
	case <-wc.done:
		return
	default:
	}
	t := time.NewTimer(wc.queueWait)
	defer t.Stop()
	select {
	case wc.send <- o:
	case <-wc.done:
	case <-t.C:
		wc.dropped = true // written before end() closes done: the writer reads it after
		wc.end()
		wc.s.metrics.wsDropped.Add(1)
		wc.s.log.Warn("websocket client too slow: dropped", "remote", wc.remote)
	}
}

func (wc *wsConn) reader() {
	defer wc.wg.Done()
	defer wc.end()
	_ = wc.c.SetReadDeadline(time.Now().Add(wsPongWait))
	wc.c.SetPongHandler(func(string) error { return wc.c.SetReadDeadline(time.Now().Add(wsPongWait)) })
	helloDone := false
	for {
		typ, b, err := wc.c.ReadMessage()
		if err != nil {
			return
		}
		_ = wc.c.SetReadDeadline(time.Now().Add(wsPongWait))
		if typ != websocket.TextMessage {
			wc.queue(outgoing{msg: errMsg("", "ws.bad_message", "Send text frames with JSON messages.")})
			continue
		}
		m, err := DecodeClientMessage(b)
		if err != nil {
			wc.queue(outgoing{msg: errMsg(m.ID, "ws.bad_message", "Invalid message: "+err.Error()+". See docs/api.md.")})
			continue
		}
		if m.Type == "hello" {
			if helloDone {
				wc.queue(outgoing{msg: replyErr(m.ID, "ws.hello_twice", "hello was already sent on this connection.")})
				continue
			}
			helloDone = true
			wc.queue(outgoing{hello: &m}) // the writer answers it, then replays
			continue
		}
		wc.queue(outgoing{msg: wc.s.command(wc.cmdCtx, m)})
	}
}

// command runs one client command and returns its reply.
func (s *Server) command(ctx context.Context, m ClientMessage) ServerMessage {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var data any
	var err error
	switch m.Type {
	case "ping":
		data = map[string]any{"time": time.Now().UTC()}
	case "status":
		data = s.statusOf(ctx)
	case "session.create":
		data, err = s.o.Service.Create(ctx, m.Items)
	case "session.get":
		data, err = s.o.Service.Get(ctx, m.SessionID)
	case "session.pay":
		data, err = s.o.Service.Pay(ctx, m.SessionID, payment.PayRequest{Method: m.Method, Installments: m.Installm})
	case "session.cancel":
		data, err = s.o.Service.Cancel(ctx, m.SessionID)
	default:
		return replyErr(m.ID, "ws.unknown_command", fmt.Sprintf("Unknown command %q: see docs/api.md for the commands of protocol v%d.", m.Type, ProtocolVersion))
	}
	if err != nil {
		e := payment.AsError(err)
		if e.Kind == payment.KindInternal {
			s.log.Error("websocket command failed", "type", m.Type, "err", err)
		}
		return replyErr(m.ID, e.Code, e.Message)
	}
	return ServerMessage{Type: "reply", ID: m.ID, OK: ptr(true), Data: data}
}

func ptr[T any](v T) *T { return &v }

func replyErr(id, code, msg string) ServerMessage {
	return ServerMessage{Type: "reply", ID: id, OK: ptr(false), Error: &apiError{Code: code, Message: msg}}
}

func errMsg(id, code, msg string) ServerMessage {
	return ServerMessage{Type: "error", ID: id, Error: &apiError{Code: code, Message: msg}}
}

// writer is the only goroutine writing to the connection: replies, events pulled from the
// journal after the client's hello (so a slow client lags in the log, never in memory), pings.
func (wc *wsConn) writer() {
	defer wc.wg.Done()
	defer wc.c.Close()
	ping := time.NewTicker(wsPingEvery)
	defer ping.Stop()
	store := wc.s.o.Store
	var cursor uint64
	stale := false // events may have been committed that this client has not been sent
	var changed <-chan struct{}
	for {
		if stale {
			// Take the channel before reading, so a commit between the read and the select
			// is not missed; then send everything after the cursor, in batches.
			changed, stale = store.Changed(), false
			for {
				evs, err := store.Events(cursor, wsEventBatch)
				if errors.Is(err, journal.ErrCompacted) {
					first := store.FirstSeq()
					if !wc.write(ServerMessage{Type: "reset", FirstSeq: &first}) {
						return
					}
					cursor = first - 1
					continue
				}
				if err != nil {
					wc.s.log.Error("websocket: reading the event log", "err", err)
					return
				}
				for _, e := range evs {
					t := e.Time
					if !wc.write(ServerMessage{Type: "event", Seq: e.Seq, Event: e.Type, Session: e.SessionID, Time: &t, Payload: e.Data}) {
						return
					}
					wc.s.metrics.eventsSent.Add(1)
					cursor = e.Seq
				}
				if len(evs) < wsEventBatch {
					break
				}
				// More waiting: let a reply through between batches.
				select {
				case o := <-wc.send:
					if !wc.handle(o, &cursor, &stale) {
						return
					}
				default:
				}
			}
		}
		select {
		case <-wc.done:
			code, text := websocket.CloseNormalClosure, ""
			if wc.dropped {
				code, text = websocket.CloseTryAgainLater, "too slow: reconnect and resume"
			}
			_ = wc.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
			return
		case <-wc.bye:
			_ = wc.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "totemd is stopping"), time.Now().Add(time.Second))
			return
		case o := <-wc.send:
			if !wc.handle(o, &cursor, &stale) {
				return
			}
		case <-changed:
			stale = true
		case <-ping.C:
			if err := wc.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				wc.end()
				return
			}
		}
	}
}

// handle writes one reply, or answers the hello and starts the replay from its since.
func (wc *wsConn) handle(o outgoing, cursor *uint64, stale *bool) bool {
	if o.hello == nil {
		return wc.write(o.msg)
	}
	store := wc.s.o.Store
	last, first := store.LastSeq(), store.FirstSeq()
	if !wc.write(ServerMessage{Type: "hello", ID: o.hello.ID, OK: ptr(true), Protocol: ProtocolVersion,
		KioskID: store.KioskID(), LastSeq: &last, FirstSeq: &first}) {
		return false
	}
	*cursor, *stale = 0, true
	if o.hello.Since != nil {
		*cursor = *o.hello.Since
	}
	if *cursor > last {
		// The client saw events this journal never had (another kiosk, a restored state
		// dir): its view is stale. Tell it to reload; stream from now on.
		if !wc.write(ServerMessage{Type: "reset", FirstSeq: &first, LastSeq: &last}) {
			return false
		}
		*cursor = last
	}
	return true
}

func (wc *wsConn) write(m ServerMessage) bool {
	_ = wc.c.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if err := wc.c.WriteJSON(m); err != nil {
		wc.end()
		return false
	}
	return true
}
