package tefsim

// Main (`totemd sim tef`): run in a goroutine with a context standing for the signals, and
// once as a child process of the test binary stopped by a real SIGTERM.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/totemd/totemd/payment/tef"
)

// mainWait is a failure deadline, never a measure of speed.
const mainWait = 10 * time.Second

// ranMain is a Main running in a goroutine.
type ranMain struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
	stderr *syncWriter
	uris   []string // of the ready line
}

// syncWriter collects what a goroutine writes.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startRun runs run(args) in a goroutine and waits for its ready line.
func startRun(t *testing.T, args ...string) *ranMain {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	m := &ranMain{t: t, cancel: cancel, done: make(chan error, 1), stderr: &syncWriter{}}
	go func() {
		err := run(ctx, args, pw, m.stderr)
		pw.CloseWithError(errors.Join(err, io.EOF))
		m.done <- err
	}()
	t.Cleanup(func() {
		m.cancel()
		pr.Close()
		select {
		case <-m.done:
		case <-time.After(mainWait):
			t.Errorf("run did not return within %s of its cancellation", mainWait)
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", m.stderr)
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, pr)
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, ReadyPrefix+" ") {
			t.Fatalf("ready line %q (ok %v); stderr:\n%s", line, ok, m.stderr)
		}
		m.uris = strings.Fields(strings.TrimPrefix(line, ReadyPrefix))
	case <-time.After(mainWait):
		t.Fatalf("no ready line within %s; stderr:\n%s", mainWait, m.stderr)
	}
	return m
}

// stop cancels run and returns its error.
func (m *ranMain) stop() error {
	m.t.Helper()
	m.cancel()
	select {
	case err := <-m.done:
		m.done <- err // for the cleanup
		return err
	case <-time.After(mainWait):
		m.t.Fatalf("run did not return within %s of its cancellation", mainWait)
	}
	return nil
}

func (m *ranMain) uri(scheme string) string {
	m.t.Helper()
	for _, u := range m.uris {
		if strings.HasPrefix(u, scheme+"://") {
			return u
		}
	}
	m.t.Fatalf("no %s:// URI in the ready line %q", scheme, m.uris)
	return ""
}

func tefClient(t *testing.T, device string) *tef.Client {
	t.Helper()
	cfg := tef.DefaultConfig()
	cfg.Device = device
	c, err := tef.NewClient(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewClient(%s): %v", device, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readLedger(t *testing.T, dir string) ledger {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ledgerFile))
	if err != nil {
		t.Fatal(err)
	}
	var l ledger
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("ledger.json: %v\n%s", err, b)
	}
	return l
}

// TestSimMainServesBothTransports: a sale confirmed over each transport lands in --dir's
// ledger.json, with the flags' network and brand; cancelling the context ends run cleanly.
func TestSimMainServesBothTransports(t *testing.T) {
	files := filepath.Join(t.TempDir(), "tef")
	ledgerDir := filepath.Join(t.TempDir(), "ledger")
	m := startRun(t, "--listen", "127.0.0.1:0", "--files", files, "--dir", ledgerDir,
		"--pinpad-delay", "0", "--status-delay", "1ms", "--network", "CIELO", "--brand", "ELO")
	if len(m.uris) != 2 {
		t.Fatalf("ready line URIs %q, want tcp and file", m.uris)
	}
	if got, want := m.uri("file"), "file://"+filepath.ToSlash(files); got != want {
		t.Errorf("file URI %q, want %q", got, want)
	}
	for _, d := range []string{"req", "resp"} {
		if fi, err := os.Stat(filepath.Join(files, d)); err != nil || !fi.IsDir() {
			t.Errorf("--files did not create %s: %v", d, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), mainWait)
	defer cancel()
	for i, scheme := range []string{"tcp", "file"} {
		c := tefClient(t, m.uri(scheme))
		if err := c.ATV(ctx); err != nil {
			t.Fatalf("%s: ATV: %v", scheme, err)
		}
		resp, err := c.Sale(ctx, tef.Sale{Document: "MAIN", AmountCents: 1000 + int64(i), Credit: true})
		if err != nil || !tef.Approved(resp) {
			t.Fatalf("%s: sale: %v %v", scheme, resp, err)
		}
		if resp.Value(10, 0) != "CIELO" || resp.Value(40, 0) != "ELO" {
			t.Errorf("%s: network %q brand %q, want CIELO ELO", scheme, resp.Value(10, 0), resp.Value(40, 0))
		}
		if err := c.Confirm(ctx, resp); err != nil {
			t.Fatalf("%s: CNF: %v", scheme, err)
		}
	}
	led := readLedger(t, ledgerDir)
	if len(led.Txs) != 2 {
		t.Fatalf("ledger.json holds %d transactions, want 2", len(led.Txs))
	}
	for i, tx := range led.Txs {
		if tx.State != StateConfirmed || tx.AmountCents != 1000+int64(i) || tx.Network != "CIELO" {
			t.Errorf("ledger.json transaction %d: %+v", i, tx)
		}
	}
	if err := m.stop(); err != nil {
		t.Errorf("run after its cancellation: %v", err)
	}
	addr := strings.TrimPrefix(m.uri("tcp"), "tcp://")
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after run returned", addr)
	}
}

// TestSimMainOneTransport: --listen "" serves files only, and without --files TCP only.
func TestSimMainOneTransport(t *testing.T) {
	files := t.TempDir()
	m := startRun(t, "--listen", "", "--files", files, "--status-delay", "0")
	if len(m.uris) != 1 || !strings.HasPrefix(m.uris[0], "file:///") {
		t.Errorf("files only: ready URIs %q", m.uris)
	}
	ctx, cancel := context.WithTimeout(context.Background(), mainWait)
	defer cancel()
	if err := tefClient(t, m.uri("file")).ATV(ctx); err != nil {
		t.Errorf("files only: ATV: %v", err)
	}
	if err := m.stop(); err != nil {
		t.Errorf("files only: %v", err)
	}

	m = startRun(t, "--listen", "127.0.0.1:0")
	if len(m.uris) != 1 || !strings.HasPrefix(m.uris[0], "tcp://127.0.0.1:") {
		t.Errorf("tcp only: ready URIs %q", m.uris)
	}
	if err := tefClient(t, m.uri("tcp")).ATV(ctx); err != nil {
		t.Errorf("tcp only: ATV: %v", err)
	}
	if err := m.stop(); err != nil {
		t.Errorf("tcp only: %v", err)
	}
}

// TestSimMainBadFlags: bad flags are errors that say what is wrong, and nothing is served.
func TestSimMainBadFlags(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined: -bogus"},
		{"argument", []string{"--listen", "127.0.0.1:0", "extra"}, `unexpected arguments ["extra"]`},
		{"nothing to serve", []string{"--listen", ""}, "nothing to serve"},
		{"negative pinpad delay", []string{"--listen", "127.0.0.1:0", "--pinpad-delay", "-1s"}, "--pinpad-delay -1s: must not be negative"},
		{"negative status delay", []string{"--listen", "127.0.0.1:0", "--status-delay", "-5ms"}, "--status-delay -5ms: must not be negative"},
		{"not a duration", []string{"--pinpad-delay", "2"}, "invalid value"},
		{"network", []string{"--listen", "127.0.0.1:0", "--network", "REDE\tX"}, "network and brand must be printable ASCII"},
		{"brand", []string{"--listen", "127.0.0.1:0", "--brand", strings.Repeat("V", 21)}, "network and brand must be printable ASCII"},
		{"port in use", []string{"--listen", busy.Addr().String()}, "--listen " + busy.Addr().String()},
		{"bad address", []string{"--listen", "nowhere"}, "--listen nowhere"},
		{"files on a file", []string{"--listen", "", "--files", notDir}, "--files " + notDir},
		{"ledger dir on a file", []string{"--listen", "127.0.0.1:0", "--dir", notDir}, "ledger directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a run that got past its flags would return at once, and nil
			err := run(ctx, tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error with %q", tc.args, err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q) printed %q on stdout", tc.args, stdout.String())
			}
		})
	}
	var stderr strings.Builder
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	for _, want := range []string{"usage: totemd sim tef", ReadyPrefix + " tcp://" + DefaultListen, "-pinpad-delay", ",51 declined"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("-h does not show %q:\n%s", want, stderr.String())
		}
	}
}

// TestSimMainSignal runs Main in a child process (this test binary) and stops it with SIGTERM:
// it exits 0, the ledger kept in --dir.
func TestSimMainSignal(t *testing.T) {
	ledgerDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSimMainChild$")
	cmd.Env = append(os.Environ(), "TEFSIM_MAIN_CHILD=--listen\n127.0.0.1:0\n--dir\n"+ledgerDir+"\n--pinpad-delay\n0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(mainWait):
		t.Fatalf("no ready line from the child within %s", mainWait)
	}
	fields := strings.Fields(strings.TrimPrefix(line, ReadyPrefix))
	if !strings.HasPrefix(line, ReadyPrefix+" ") || len(fields) != 1 || !strings.HasPrefix(fields[0], "tcp://") {
		t.Fatalf("child's ready line %q; stderr:\n%s", line, stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), mainWait)
	defer cancel()
	c := tefClient(t, fields[0])
	resp, err := c.Sale(ctx, tef.Sale{Document: "SIG", AmountCents: 777, Credit: true})
	if err != nil || !tef.Approved(resp) {
		t.Fatalf("sale: %v %v", resp, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("child after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(mainWait):
		t.Fatalf("the child did not stop within %s of SIGTERM", mainWait)
	}
	if !strings.Contains(stderr.String(), "tefsim: closed") {
		t.Errorf("the child did not log its close:\n%s", stderr.String())
	}
	if led := readLedger(t, ledgerDir); len(led.Txs) != 1 || led.Txs[0].State != StatePending || led.Txs[0].AmountCents != 777 {
		t.Errorf("ledger after the stop: %+v", led.Txs)
	}
}

// TestSimMainChild is the child of TestSimMainSignal; it does nothing in a normal run.
func TestSimMainChild(t *testing.T) {
	args, ok := os.LookupEnv("TEFSIM_MAIN_CHILD")
	if !ok {
		return
	}
	if err := Main(strings.Split(args, "\n")); err != nil {
		t.Fatalf("Main: %v", err)
	}
}
