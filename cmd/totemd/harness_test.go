package main

// The tests of this package boot the real totemd binary (built once, with -race, in TestMain)
// and drive it from outside: REST, the WebSocket protocol, signals and the CLI. Nothing here
// sleeps to wait for a state: tests wait on WebSocket events, or poll the API with a failure
// deadline.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/sync/journal"
	"github.com/totemd/totemd/ui/client"
)

// totemdBin is the daemon binary under test, built by TestMain.
var totemdBin string

// Failure deadlines. They bound waits for the race-instrumented daemon on a loaded machine;
// they are never what a test measures (except the 5 s stop requirement, in stop_test.go).
const (
	startTimeout = 60 * time.Second
	waitTimeout  = 30 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// consultaJSON is the body the kiosk sends to open a session for one consultation.
const consultaJSON = `{"items":[{"sku":"CONSULTA","name":"Consulta","unit_cents":15000,"qty":1}]}`

var (
	consulta = []payment.Item{{SKU: "CONSULTA", Name: "Consulta", UnitCents: 15000, Qty: 1}}
	// declined is demo.yaml's item whose centavos (,51) make the simulated TEF decline.
	declined = []payment.Item{{SKU: "TESTE-NEGADO", Name: "Teste", UnitCents: 1051, Qty: 1}}
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "totemd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	goTool, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		} else {
			fmt.Fprintln(os.Stderr, "e2e: the go tool is not in PATH:", err)
			return 1
		}
	}
	totemdBin = filepath.Join(dir, "totemd")
	build := exec.Command(goTool, "build", "-race", "-tags", "failpoint", "-o", totemdBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building totemd:", err)
		return 1
	}
	return m.Run()
}

// childEnv is the environment of a totemd process. The race detector's exit status is
// neutralised so that exit codes are the product's own; data races are caught instead by
// scanning the process output (checkOutput), which fails the test. The daemon keeps the
// detector's 1 s sleep at exit (it catches races of goroutines still running at the end; the
// 5 s stop requirement is measured with it); short CLI commands skip it.
func childEnv(daemon bool) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	if daemon {
		return append(env, "GORACE=exitcode=0")
	}
	return append(env, "GORACE=exitcode=0 atexit_sleep_ms=0")
}

// checkOutput fails t on panics and data races in a process' output.
func checkOutput(t *testing.T, who, out string) {
	t.Helper()
	if i := strings.Index(out, "panic: "); i >= 0 {
		t.Errorf("%s panicked:\n%s", who, out[i:])
	}
	if i := strings.Index(out, "fatal error: "); i >= 0 {
		t.Errorf("%s died:\n%s", who, out[i:])
	}
	for _, rep := range raceReports(out) {
		t.Errorf("%s: DATA RACE:\n%s", who, rep)
	}
}

// raceReports splits the race detector's reports out of a process' output.
func raceReports(out string) []string {
	var reps []string
	parts := strings.Split(out, "WARNING: DATA RACE")
	for _, p := range parts[1:] {
		if i := strings.Index(p, "=================="); i >= 0 {
			p = p[:i]
		}
		reps = append(reps, "WARNING: DATA RACE"+p)
	}
	return reps
}

// syncBuffer collects a process' output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running totemd process.
type proc struct {
	t     *testing.T
	dir   string
	cmd   *exec.Cmd
	out   *syncBuffer
	done  chan struct{} // closed when the process has exited and its output is collected
	addr  string
	token string
	c     *client.Client
}

// startDemo starts `totemd run --demo` on dir (created by the daemon when missing) on a free
// loopback port and waits for it to publish its address.
func startDemo(t *testing.T, dir string) *proc {
	t.Helper()
	return startDaemon(t, dir, "--demo")
}

func startDaemon(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startDaemonEnv(t, dir, nil, args...)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = append([]string{"..."}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}

// waitReady polls the state dir for api.addr (the daemon writes it once listening).
func (d *proc) waitReady() {
	d.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-d.done:
			d.t.Fatalf("totemd exited before it was ready (%v):\n%s", d.cmd.ProcessState, d.out.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(d.dir, "api.addr"))
		if err == nil && strings.HasSuffix(string(b), "\n") {
			d.addr = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("totemd did not write %s/api.addr within %s:\n%s", d.dir, startTimeout, d.out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a file for a process to start
	}
	tok, err := os.ReadFile(filepath.Join(d.dir, "api.token"))
	if err != nil {
		d.t.Fatalf("reading the api token: %v", err)
	}
	d.token = strings.TrimSpace(string(tok))
	d.c = client.New(d.addr, d.token)
}

func (d *proc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process (if still running) and waits for it.
func (d *proc) kill() {
	if !d.exited() {
		_ = d.cmd.Process.Kill()
	}
	<-d.done
}

// signal sends sig and waits up to limit for the process to exit; it returns how long it
// took, or fails the test.
func (d *proc) signal(sig os.Signal, limit time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signalling totemd: %v", err)
	}
	select {
	case <-d.done:
		return time.Since(start)
	case <-time.After(limit):
		d.t.Fatalf("totemd did not exit within %s of %v", limit, sig)
	}
	return 0
}

// stop ends the daemon cleanly (SIGTERM) and requires exit status 0.
func (d *proc) stop() {
	d.t.Helper()
	d.signal(syscall.SIGTERM, waitTimeout)
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		d.t.Fatalf("totemd exited with %v after SIGTERM:\n%s", d.cmd.ProcessState, tail(d.out.String(), 40))
	}
}

func (d *proc) url(path string) string { return "http://" + d.addr + path }

// request is one raw HTTP request: headers as given, nothing added.
func (d *proc) request(method, path, body string, hdr map[string]string) (int, []byte) {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.url(path), rd)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (d *proc) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + d.token}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitSession polls GET /api/v1/sessions/{id} until cond holds, failing after waitTimeout.
func waitSession(t *testing.T, c *client.Client, id, what string, cond func(*payment.Session) bool) *payment.Session {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last *payment.Session
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := c.Session(ctx, id)
		cancel()
		if err != nil {
			t.Fatalf("GET session %s: %v", id, err)
		}
		if cond(s) {
			return s
		}
		last = s
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(last, "", "  ")
			t.Fatalf("session %s: not %s within %s; last seen:\n%s", id, what, waitTimeout, b)
		}
		time.Sleep(pollEvery) // polling interval of a deadline-bounded poll
	}
}

// allEvents pages GET /api/v1/events?after= through the whole log.
func allEvents(t *testing.T, c *client.Client, after uint64, page int) []journal.Event {
	t.Helper()
	var out []journal.Event
	for {
		evs, err := c.Events(ctxT(t), after, page)
		if err != nil {
			t.Fatalf("GET events after %d: %v", after, err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

// allSessions pages GET /api/v1/sessions?before= through every session, newest first.
func allSessions(t *testing.T, c *client.Client) []*payment.Session {
	t.Helper()
	var out []*payment.Session
	before := ""
	for {
		list, err := c.Sessions(ctxT(t), payment.ListOptions{Limit: 7, Before: before})
		if err != nil {
			t.Fatalf("GET sessions: %v", err)
		}
		if len(list) == 0 {
			return out
		}
		out = append(out, list...)
		before = list[len(list)-1].ID
	}
}

// ---- WebSocket ----

// wsClient wraps client.WS: it records every event, checks that the stream has no gap and no
// duplicate (each event's seq is the previous one + 1), and keeps replies by id.
type wsClient struct {
	t       *testing.T
	ws      *client.WS
	last    uint64 // seq of the last event received (or the hello's since)
	events  []client.Message
	replies map[string]client.Message
	n       int
	used    int // events[:used] were looked at by waitEvent
}

func dialWS(t *testing.T, d *proc) *wsClient {
	t.Helper()
	ws, err := d.c.Dial(ctxT(t), "")
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	w := &wsClient{t: t, ws: ws, replies: map[string]client.Message{}}
	t.Cleanup(func() { _ = ws.Close() })
	return w
}

// hello sends hello{since} and returns the server's answer.
func (w *wsClient) hello(since uint64) client.Message {
	w.t.Helper()
	m, err := w.ws.Hello(ctxT(w.t), since)
	if err != nil {
		w.t.Fatalf("hello: %v", err)
	}
	if m.OK == nil || !*m.OK || m.Protocol != 1 || m.LastSeq == nil {
		w.t.Fatalf("hello answer: %+v", m)
	}
	w.last = since
	return m
}

// read reads one message and accounts for it.
func (w *wsClient) read() client.Message {
	w.t.Helper()
	m, err := w.ws.Next(ctxT(w.t))
	if err != nil {
		w.t.Fatalf("websocket read: %v", err)
	}
	switch m.Type {
	case "event":
		if m.Seq != w.last+1 {
			w.t.Errorf("websocket event seq %d (%s) after %d: a gap or a duplicate", m.Seq, m.Event, w.last)
		}
		w.last = m.Seq
		w.events = append(w.events, m)
	case "reply":
		w.replies[m.ID] = m
	case "error", "reset":
		w.t.Errorf("unexpected websocket message: %+v", m)
	}
	return m
}

// waitEvent returns the first event not yet looked at that satisfies cond, reading more as
// needed (events that arrived while waiting for a command's reply count).
func (w *wsClient) waitEvent(what string, cond func(m client.Message, s *payment.Session) bool) (client.Message, *payment.Session) {
	w.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		for w.used < len(w.events) {
			m := w.events[w.used]
			w.used++
			if s := sessionOf(m.Payload); cond(m, s) {
				return m, s
			}
		}
		w.read()
	}
	w.t.Fatalf("no websocket event %s within %s", what, waitTimeout)
	return client.Message{}, nil
}

// cmd sends a command and reads until its reply, recording the events that come first.
func (w *wsClient) cmd(msg map[string]any) client.Message {
	w.t.Helper()
	w.n++
	id := fmt.Sprintf("c%d", w.n)
	msg["id"] = id
	if err := w.ws.Send(msg); err != nil {
		w.t.Fatalf("websocket send: %v", err)
	}
	for {
		if r, ok := w.replies[id]; ok {
			delete(w.replies, id)
			return r
		}
		w.read()
	}
}

// okSession requires a successful reply carrying a session.
func okSession(t *testing.T, r client.Message) *payment.Session {
	t.Helper()
	if r.OK == nil || !*r.OK {
		t.Fatalf("command failed: %+v (error %+v)", r, r.Error)
	}
	s := sessionOf(r.Data)
	if s == nil || s.ID == "" {
		t.Fatalf("reply without a session: %s", r.Data)
	}
	return s
}

// sessionOf decodes a session payload; nil when the payload is not a session.
func sessionOf(raw json.RawMessage) *payment.Session {
	if len(raw) == 0 {
		return nil
	}
	var s payment.Session
	if json.Unmarshal(raw, &s) != nil || s.ID == "" {
		return nil
	}
	return &s
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("bad JSON %q: %v", raw, err)
	}
	return b.String()
}

// ---- CLI ----

// runCLI runs totemd with args and returns its stdout, stderr and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, totemdBin, args...)
	cmd.Env = childEnv(len(args) > 0 && args[0] == "run")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running totemd %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("totemd %q did not finish within %s", args, startTimeout)
	}
	checkOutput(t, fmt.Sprintf("totemd %s", strings.Join(args, " ")), o.String()+e.String())
	return o.String(), e.String(), code
}

// ---- TEF tests (tef_e2e_test.go, tef_crash_test.go) ----

// startDaemonEnv is startDaemon with extra environment variables for the daemon, e.g.
// TOTEMD_CRASH_AT=card.printed (the binary is built with -tags failpoint).
func startDaemonEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	// A killed daemon leaves its api.addr behind (a clean stop removes it); the harness must not
	// mistake the old address for the new process'.
	if err := os.Remove(filepath.Join(dir, "api.addr")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	args = append([]string{"run", "--state-dir", dir, "--listen", "127.0.0.1:0"}, args...)
	d := &proc{t: t, dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(totemdBin, args...)
	d.cmd.Env = append(childEnv(true), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting totemd: %v", err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.kill()
		checkOutput(t, fmt.Sprintf("totemd (pid %d)", d.cmd.Process.Pid), d.out.String())
		if t.Failed() {
			t.Logf("output of totemd pid %d (%s):\n%s", d.cmd.Process.Pid, strings.Join(env, " "), tail(d.out.String(), 80))
		}
	})
	d.waitReady()
	return d
}

// writeDaemonConfig writes a small daemon config (kiosk id, state_dir, debug log) followed by
// extra, raw YAML (payment, catalog, tef, printer sections...), and returns its path.
func writeDaemonConfig(t *testing.T, stateDir, extra string) string {
	t.Helper()
	body := fmt.Sprintf("kiosk:\n  id: t\nstate_dir: %q\nlog:\n  level: debug\n%s", stateDir, extra)
	path := filepath.Join(t.TempDir(), "totemd.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
