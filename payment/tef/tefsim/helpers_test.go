package tefsim_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit is a failure deadline, never a measure of speed.
const waitLimit = 5 * time.Second

// How long a test watches for something that must not come. The simulator's status delay in
// tests is 5ms; the file poller looks 4 times a second.
const (
	quietTCP  = 200 * time.Millisecond
	quietFile = 3 * tefsim.PollInterval
)

// start is the simulator's clock in the tests: 15:04:05 on 10 March 2025, in Brasília time.
var start = time.Date(2025, 3, 10, 15, 4, 5, 0, time.FixedZone("BRT", -3*3600))

// logBuf collects the simulator's log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newSim starts a simulator with short delays; mod adjusts the options.
func newSim(t *testing.T, mod ...func(o *tefsim.Options)) (*tefsim.Sim, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	o := tefsim.Options{
		PINPadDelay: 20 * time.Millisecond,
		StatusDelay: 5 * time.Millisecond,
		Now:         func() time.Time { return start },
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&o)
	}
	s, err := tefsim.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("simulator log:\n%s", logs)
		}
	})
	return s, logs
}

// automation is the tiny automation of the tests: it writes requests and reads what the GP
// answers, over one transport.
type automation interface {
	// send writes a request.
	send(t *testing.T, raw string)
	// next reads the next message: the status after a send, then the response. It returns the
	// raw bytes; err is a timeout, io.EOF (connection closed) and the like.
	next(within time.Duration) ([]byte, error)
	// quiet is how long to watch for a message that must not come.
	quiet() time.Duration
	// again is the automation after it lost its link: a new connection over TCP.
	again(t *testing.T) automation
}

// transport starts the simulator's side of one transport and returns a client for it.
type transport struct {
	name    string
	connect func(t *testing.T, s *tefsim.Sim) automation
}

var transports = []transport{
	{"tcp", func(t *testing.T, s *tefsim.Sim) automation {
		t.Helper()
		addr, err := s.ListenTCP("127.0.0.1:0")
		if err != nil {
			t.Fatalf("ListenTCP: %v", err)
		}
		return dialTCP(t, addr)
	}},
	{"file", func(t *testing.T, s *tefsim.Sim) automation {
		t.Helper()
		root := t.TempDir()
		c := &fileClient{req: filepath.Join(root, "REQ"), resp: filepath.Join(root, "RESP")}
		if err := s.ServeFiles(c.req, c.resp); err != nil {
			t.Fatalf("ServeFiles: %v", err)
		}
		return c
	}},
}

// tcpClient speaks to the simulator over one connection.
type tcpClient struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func dialTCP(t *testing.T, addr string) *tcpClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &tcpClient{addr: addr, c: c, r: bufio.NewReader(c)}
}

func (c *tcpClient) again(t *testing.T) automation {
	t.Helper()
	c.c.Close()
	return dialTCP(t, c.addr)
}

func (c *tcpClient) quiet() time.Duration { return quietTCP }

func (c *tcpClient) send(t *testing.T, raw string) {
	t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := c.c.Write([]byte(raw)); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
}

// next reads lines up to a 999-999 line.
func (c *tcpClient) next(within time.Duration) ([]byte, error) {
	c.c.SetReadDeadline(time.Now().Add(within))
	var msg []byte
	for {
		line, err := c.r.ReadBytes('\n')
		msg = append(msg, line...)
		if err != nil {
			return msg, err
		}
		if bytes.HasPrefix(line, []byte("999-999")) {
			return msg, nil
		}
	}
}

// fileClient is the classic file exchange, as an automation does it: clear RESP, write
// IntPos.tmp in REQ and rename it IntPos.001; then wait for IntPos.sts, read and delete it;
// then the same for IntPos.001 in RESP.
type fileClient struct {
	req, resp string
	mu        sync.Mutex
	gotStatus bool
}

func (c *fileClient) quiet() time.Duration { return quietFile }

func (c *fileClient) again(*testing.T) automation { return c }

func (c *fileClient) send(t *testing.T, raw string) {
	t.Helper()
	for _, n := range []string{tefsim.StatusFile, tefsim.ResponseFile} {
		if err := os.Remove(filepath.Join(c.resp, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(c.req, tefsim.TempFile)
	if err := os.WriteFile(tmp, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.req, tefsim.RequestFile)); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.gotStatus = false
	c.mu.Unlock()
}

func (c *fileClient) next(within time.Duration) ([]byte, error) {
	c.mu.Lock()
	name := tefsim.StatusFile
	if c.gotStatus {
		name = tefsim.ResponseFile
	}
	c.mu.Unlock()
	path := filepath.Join(c.resp, name)
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			if err := os.Remove(path); err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.gotStatus = true
			c.mu.Unlock()
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no %s in %s: %w", name, within, os.ErrDeadlineExceeded)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request writes a request by hand: "NNN-NNN = value" lines and the trailer. fields are
// "id-seq", "value" pairs.
func request(fields ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "%s = %s\r\n", fields[i], fields[i+1])
	}
	b.WriteString("999-999 = 0\r\n")
	return b.String()
}

// crt is a sale request.
func crt(id string, cents int64, extra ...string) string {
	return request(append([]string{"000-000", "CRT", "001-000", id, "002-000", "DOC" + id, "003-000",
		fmt.Sprint(cents), "004-000", "0"}, extra...)...)
}

// resolveReq is a CNF or NCN of tx.
func resolveReq(cmd, id string, tx tefsim.Tx) string {
	return request("000-000", cmd, "001-000", id, "010-000", tx.Network, "012-000", tx.NSU, "027-000", tx.Finalizacao)
}

// mustNext reads the next message and parses it.
func mustNext(t *testing.T, a automation, what string) *tef.Message {
	t.Helper()
	raw, err := a.next(waitLimit)
	if err != nil {
		t.Fatalf("waiting for the %s: %v (got %q)", what, err, raw)
	}
	m, err := tef.Parse(raw)
	if err != nil {
		t.Fatalf("the %s does not parse: %v\n%s", what, err, raw)
	}
	return m
}

// wantStatus reads the status of the request cmd id and checks it byte for byte.
func wantStatus(t *testing.T, a automation, cmd, id string) {
	t.Helper()
	raw, err := a.next(waitLimit)
	if err != nil {
		t.Fatalf("waiting for the status of %s %s: %v (got %q)", cmd, id, err, raw)
	}
	want := "000-000 = " + cmd + "\r\n001-000 = " + id + "\r\n009-000 = 0\r\n999-999 = 0\r\n"
	if string(raw) != want {
		t.Fatalf("status of %s %s:\n got %q\nwant %q", cmd, id, raw, want)
	}
}

// exchange sends a request, checks its status and returns the response.
func exchange(t *testing.T, a automation, raw string) *tef.Message {
	t.Helper()
	req, err := tef.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("the test's request does not parse: %v", err)
	}
	a.send(t, raw)
	wantStatus(t, a, req.Command(), req.RequestID())
	resp := mustNext(t, a, "response of "+req.Command()+" "+req.RequestID())
	if err := tef.Check(req, resp); err != nil {
		t.Fatalf("response: %v", err)
	}
	return resp
}

// statusOnly sends a CNF or NCN and checks that its status, and nothing else, comes.
func statusOnly(t *testing.T, a automation, raw string) {
	t.Helper()
	req, err := tef.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	a.send(t, raw)
	wantStatus(t, a, req.Command(), req.RequestID())
}

// wantNothing checks that no message comes for a while.
func wantNothing(t *testing.T, a automation, what string) {
	t.Helper()
	raw, err := a.next(a.quiet())
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: got %q, %v; want nothing", what, raw, err)
	}
}

func field(t *testing.T, m *tef.Message, id int, want string) {
	t.Helper()
	if got := m.Value(id, 0); got != want {
		t.Errorf("%03d-000 = %q, want %q", id, got, want)
	}
}

// wantLedger compares the states of the ledger, oldest first.
func wantLedger(t *testing.T, s *tefsim.Sim, states ...string) []tefsim.Tx {
	t.Helper()
	led := s.Ledger()
	var got []string
	for _, tx := range led {
		got = append(got, tx.State)
	}
	if strings.Join(got, ",") != strings.Join(states, ",") {
		t.Fatalf("ledger states %v, want %v", got, states)
	}
	return led
}

// eventually waits until ok holds.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPolls waits until the file poller has looked at REQ n more times.
func waitPolls(t *testing.T, s *tefsim.Sim, n int64) {
	t.Helper()
	target := tefsim.Polls(s) + n
	eventually(t, fmt.Sprintf("%d polls", n), func() bool { return tefsim.Polls(s) >= target })
}
