package printer

// Flow control, pacing and ASB packets, over an in-memory link that says it is a serial line:
// a rig records every byte both ways with its time, and lets a test act as the printer's
// firmware (XOFF/XON, ASB packets, late answers) around a printertest.Fake.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/printer/printertest"
	"github.com/totemd/totemd/sync/journal"
)

const (
	xon  = 0x11
	xoff = 0x13
)

// asbNearEnd is an ASB packet: online, no error, paper near end.
var asbNearEnd = []byte{0x10, 0x00, 0x03, 0x00}

// halfPipe is one direction of an in-memory link. Writes never block (a tty's buffer); reads
// block until there is data or the pipe is closed (then io.EOF once drained).
type halfPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func newHalfPipe() *halfPipe {
	h := &halfPipe{}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *halfPipe) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, net.ErrClosed
	}
	h.buf = append(h.buf, p...)
	h.cond.Broadcast()
	return len(p), nil
}

func (h *halfPipe) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.buf) == 0 && !h.closed {
		h.cond.Wait()
	}
	if len(h.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, h.buf)
	h.buf = h.buf[n:]
	return n, nil
}

func (h *halfPipe) Close() {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
}

// stamp is one read or write, with its time.
type stamp struct {
	at   time.Time
	data []byte
}

// rig opens memLinks to a fake printer and records the traffic.
type rig struct {
	fake *printertest.Fake
	info device.LinkInfo
	wg   sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed at every recorded event
	toHost   *halfPipe     // printer -> host of the newest link
	opens    int
	received []byte  // everything the printer read (all links)
	arrivals []stamp // what the printer read, when
	writes   []stamp // host writes
	reads    []stamp // host reads
	sent     []stamp // bytes the test's firmware sent (XOFF, XON, ASB)
	// onData runs after the printer read data, with everything it received so far.
	onData func(received []byte)
	// onAnswer sends the fake's answer ans to the host (it may add bytes, delay it or drop it).
	onAnswer func(out io.Writer, ans []byte) error
}

func newRig(info device.LinkInfo) *rig {
	return &rig{fake: printertest.New(), info: info, changed: make(chan struct{})}
}

func serialInfo(baud int, flow string) device.LinkInfo {
	return device.LinkInfo{URI: fmt.Sprintf("serial:///dev/ttyFLOW?baud=%d&flow=%s", baud, flow), Kind: "serial",
		CanRead: true, BaudRate: baud, Flow: flow}
}

// note records under r.mu and wakes waiters.
func (r *rig) note(fn func()) {
	r.mu.Lock()
	fn()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *rig) open(ctx context.Context, uri string) (device.Link, error) {
	h2p, p2h := newHalfPipe(), newHalfPipe()
	r.note(func() { r.toHost, r.opens = p2h, r.opens+1 })
	r.wg.Go(func() { _ = r.fake.Serve(&firmware{r: r, in: h2p, out: p2h}) })
	return &memLink{r: r, in: p2h, out: h2p}, nil
}

// send writes bytes from the printer to the host, as the printer's firmware would.
func (r *rig) send(b []byte) time.Time {
	r.mu.Lock()
	out := r.toHost
	r.mu.Unlock()
	now := time.Now()
	r.note(func() { r.sent = append(r.sent, stamp{now, bytes.Clone(b)}) })
	_, _ = out.Write(b)
	return now
}

func (r *rig) setHooks(onData func([]byte), onAnswer func(io.Writer, []byte) error) {
	r.mu.Lock()
	r.onData, r.onAnswer = onData, onAnswer
	r.mu.Unlock()
}

// waitUntil waits (failure deadline 10 s) until cond, evaluated under r.mu, holds.
func (r *rig) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok, ch := cond(), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("waiting for %s: timed out", what)
		}
	}
}

// jobWrites returns the host writes that are not status requests (DLE EOT n, GS r 1).
func (r *rig) jobWrites() []stamp {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stamp
	for _, w := range r.writes {
		if !isStatusRequest(w.data) {
			out = append(out, w)
		}
	}
	return out
}

func isStatusRequest(b []byte) bool {
	return len(b) == 3 && (b[0] == 0x10 && b[1] == 0x04 || b[0] == 0x1d && b[1] == 0x72)
}

// firmware is the printer's end of a memLink: it feeds the fake and lets hooks act.
type firmware struct {
	r   *rig
	in  *halfPipe // host -> printer
	out *halfPipe // printer -> host
}

func (f *firmware) Read(p []byte) (int, error) {
	n, err := f.in.Read(p)
	if n > 0 {
		now := time.Now()
		var rec []byte
		var hook func([]byte)
		f.r.note(func() {
			f.r.received = append(f.r.received, p[:n]...)
			f.r.arrivals = append(f.r.arrivals, stamp{now, bytes.Clone(p[:n])})
			rec, hook = bytes.Clone(f.r.received), f.r.onData
		})
		if hook != nil {
			hook(rec)
		}
	}
	return n, err
}

func (f *firmware) Write(p []byte) (int, error) {
	f.r.mu.Lock()
	hook := f.r.onAnswer
	f.r.mu.Unlock()
	if hook != nil {
		return len(p), hook(f.out, p)
	}
	return f.out.Write(p)
}

// memLink is the host's end.
type memLink struct {
	r   *rig
	in  *halfPipe // printer -> host
	out *halfPipe // host -> printer
}

func (l *memLink) Read(p []byte) (int, error) {
	n, err := l.in.Read(p)
	if n > 0 {
		now := time.Now()
		l.r.note(func() { l.r.reads = append(l.r.reads, stamp{now, bytes.Clone(p[:n])}) })
	}
	return n, err
}

func (l *memLink) Write(p []byte) (int, error) {
	now := time.Now()
	l.r.note(func() { l.r.writes = append(l.r.writes, stamp{now, bytes.Clone(p)}) })
	return l.out.Write(p)
}

func (l *memLink) Close() error {
	l.in.Close()
	l.out.Close()
	return nil
}

func (l *memLink) SetReadDeadline(time.Time) error  { return nil }
func (l *memLink) SetWriteDeadline(time.Time) error { return nil }
func (l *memLink) Info() device.LinkInfo            { return l.r.info }

// logRecorder keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, rec.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

type flowEnv struct {
	svc    *Service
	health *device.Health
	store  *journal.Store
	logs   *logRecorder
}

// startFlow starts a service on r's links; the fake printer's goroutines end before cleanup
// returns.
func startFlow(t *testing.T, r *rig, mod func(*Config), opt func(*Options)) *flowEnv {
	t.Helper()
	store, err := journal.Open(journal.Options{Path: filepath.Join(t.TempDir(), "j.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Device = r.info.URI
	cfg.PollInterval = time.Minute // polls only when asked: the tests control the traffic
	cfg.StatusTimeout = 300 * time.Millisecond
	cfg.JobTimeout = 10 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	e := &flowEnv{health: device.NewHealth(nil), store: store, logs: &logRecorder{}}
	o := Options{Config: cfg, Store: store, Health: e.health, Open: r.open, Logger: slog.New(e.logs)}
	if opt != nil {
		opt(&o)
	}
	e.svc, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.svc.Close()
		r.wg.Wait()
		store.Close()
	})
	return e
}

// ready waits until a Refresh succeeds and Ready says yes (failure deadline).
func (e *flowEnv) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := e.svc.Refresh(ctx)
		cancel()
		if err == nil && e.svc.Ready(context.Background()) == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("printer not ready: refresh %v, ready %v, health %v", err, e.svc.Ready(context.Background()), e.health.List())
		}
	}
}

// textJob is a job of exactly size bytes: ESC @, a tag, lines of text, a full cut.
func textJob(tag string, size int) []byte {
	b := []byte("\x1b@" + tag + "\n")
	for i := 0; len(b) < size-4; i++ {
		line := fmt.Sprintf("%s linha %04d abcdefghijklmnopqrstuvwxyz\n", tag, i)
		b = append(b, line...)
	}
	b = b[:size-4]
	b[len(b)-1] = '\n'
	return append(b, 0x1d, 0x56, 0x41, 0x00)
}

// xoffAfter makes the printer send XOFF once it has received n bytes of job (and then
// whatever extra returns).
func xoffAfter(r *rig, job []byte, n int, extra []byte, sent chan<- time.Time) func([]byte) {
	var once sync.Once
	head := job[:12]
	return func(received []byte) {
		i := bytes.Index(received, head)
		if i < 0 || len(received)-i < n {
			return
		}
		once.Do(func() { sent <- r.send(append(bytes.Clone(extra), xoff)) })
	}
}

// jobBytesAt counts the bytes of job the printer had received by t.
func (r *rig) jobBytesAt(job []byte, t time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []byte
	for _, a := range r.arrivals {
		if a.at.After(t) {
			break
		}
		all = append(all, a.data...)
	}
	i := bytes.Index(all, job[:12])
	if i < 0 {
		return 0
	}
	return min(len(all)-i, len(job))
}

// hostReadAt returns when the host first read b after t.
func (r *rig) hostReadAt(b byte, after time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rd := range r.reads {
		if !rd.at.Before(after) && bytes.IndexByte(rd.data, b) >= 0 {
			return rd.at, true
		}
	}
	return time.Time{}, false
}

// TestXOFFPausesTheJob: the printer sends XOFF after the first 700 bytes of a job and XON
// 400 ms later; nothing more than the chunk already on its way arrives in between, and the job
// completes after XON.
func TestXOFFPausesTheJob(t *testing.T) {
	r := newRig(serialInfo(115200, "xonxoff"))
	e := startFlow(t, r, nil, nil)
	e.ready(t)
	job := textJob("XOFFJOB", 3000)
	const n, chunk = 700, 576 // 576: ~50 ms of line at 115200, what the service writes at once
	xoffSent := make(chan time.Time, 1)
	r.setHooks(xoffAfter(r, job, n, nil, xoffSent), nil)

	done := make(chan error, 1)
	go func() { done <- e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job}) }()
	var tXOFF time.Time
	select {
	case tXOFF = <-xoffSent:
	case err := <-done:
		t.Fatalf("job ended before the printer sent XOFF: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the printer never got 700 bytes of the job")
	}
	r.waitUntil(t, "the host to read XOFF", func() bool { _, ok := r.hostReadAtLocked(xoff, tXOFF); return ok })
	select {
	case err := <-done:
		t.Fatalf("job ended while the printer was paused: %v", err)
	case <-time.After(400 * time.Millisecond): // the printer's pause
	}
	tXON := r.send([]byte{xon})
	if err := <-done; err != nil {
		t.Fatalf("job after XON: %v", err)
	}

	atXOFF, atXON := r.jobBytesAt(job, tXOFF), r.jobBytesAt(job, tXON)
	if atXOFF < n || atXON >= len(job) {
		t.Fatalf("printer had %d bytes at XOFF, %d at XON, of %d", atXOFF, atXON, len(job))
	}
	if atXON-atXOFF > chunk {
		t.Errorf("%d bytes arrived while the printer was paused (more than the %d-byte chunk in flight)", atXON-atXOFF, chunk)
	}
	tRead, _ := r.hostReadAt(xoff, tXOFF)
	var during, after int
	for _, w := range r.jobWrites() {
		switch {
		case w.at.After(tRead) && w.at.Before(tXON):
			during++
		case !w.at.Before(tXON):
			after += len(w.data)
		}
	}
	if during > 1 {
		t.Errorf("%d writes after the host read XOFF and before XON (at most the one already under way)", during)
	}
	if after == 0 {
		t.Error("nothing written after XON: the job did not wait")
	}
	jobs := r.fake.Jobs()
	if len(jobs) != 1 || !bytes.Equal(jobs[0], job) {
		t.Fatalf("printer got %d jobs (first %d bytes, want %d)", len(jobs), lenFirst(jobs), len(job))
	}
	list, err := e.svc.Jobs(10)
	if err != nil || len(list) != 1 || list[0].State != JobPrinted {
		t.Fatalf("journal jobs %+v %v", list, err)
	}
}

func (r *rig) hostReadAtLocked(b byte, after time.Time) (time.Time, bool) {
	for _, rd := range r.reads {
		if !rd.at.Before(after) && bytes.IndexByte(rd.data, b) >= 0 {
			return rd.at, true
		}
	}
	return time.Time{}, false
}

func lenFirst(jobs [][]byte) int {
	if len(jobs) == 0 {
		return 0
	}
	return len(jobs[0])
}

// TestXOFFWithoutXON: a printer that never resumes fails the job by the job timeout; the
// job is kept as failed and nothing more is sent while it is paused.
func TestXOFFWithoutXON(t *testing.T) {
	r := newRig(serialInfo(115200, "xonxoff"))
	const jobTimeout = time.Second
	e := startFlow(t, r, func(c *Config) { c.JobTimeout = jobTimeout }, nil)
	e.ready(t)
	job := textJob("STUCKJOB", 3000)
	xoffSent := make(chan time.Time, 1)
	r.setHooks(xoffAfter(r, job, 700, nil, xoffSent), nil)

	start := time.Now()
	err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("a job the printer never took printed")
	}
	if code(err) == "" || code(err) == "internal" {
		t.Errorf("error without a code: %v", err)
	}
	if elapsed < jobTimeout*9/10 {
		t.Errorf("failed after %s: it did not wait for XON", elapsed)
	}
	// A failure deadline, not a speed: the job is bounded by the job timeout.
	if elapsed > jobTimeout+time.Second {
		t.Errorf("failed after %s, job timeout %s", elapsed, jobTimeout)
	}
	var tXOFF time.Time
	select {
	case tXOFF = <-xoffSent:
	default:
		t.Fatal("XOFF never sent")
	}
	if got, at := r.jobBytesAt(job, time.Now()), r.jobBytesAt(job, tXOFF); got-at > 576 {
		t.Errorf("%d bytes sent after XOFF", got-at)
	}
	if jobs := r.fake.Jobs(); len(jobs) != 0 {
		t.Errorf("printer completed %d jobs", len(jobs))
	}
	list, lerr := e.svc.Jobs(10)
	if lerr != nil || len(list) != 1 || list[0].State != JobFailed || list[0].Error != code(err) {
		t.Fatalf("journal jobs %+v %v (print error %v)", list, lerr, err)
	}
	t.Logf("error: %v (after %s)", err, elapsed.Round(time.Millisecond))
}

// TestPacingAtLineRate: at 9600 baud (10 bits a byte) 1200 bytes take 1.25 s of line; writes
// to the tty return at once, so the service must pace itself. Lower bounds only.
func TestPacingAtLineRate(t *testing.T) {
	r := newRig(serialInfo(9600, "none"))
	e := startFlow(t, r, nil, nil)
	e.ready(t)
	job := textJob("PACEJOB", 1200)
	start := time.Now()
	if err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job}); err != nil {
		t.Fatalf("print: %v", err)
	}
	if d := time.Since(start); d < 1100*time.Millisecond {
		t.Errorf("1200 bytes at 9600 baud printed in %s (the line needs 1.25 s)", d)
	}
	ws := r.jobWrites()
	total := 0
	for _, w := range ws {
		total += len(w.data)
	}
	if total != len(job) || len(ws) < 2 {
		t.Fatalf("%d job bytes in %d writes", total, len(ws))
	}
	if span := ws[len(ws)-1].at.Sub(ws[0].at); span < 1100*time.Millisecond {
		t.Errorf("job written over %s; the line takes 1.25 s", span)
	}
	// Never ahead of the line: the write starting at byte k comes at least k byte-times after
	// the first (less one chunk of tolerance).
	perByte := 10 * time.Second / 9600
	off := 0
	for i, w := range ws {
		if min := time.Duration(off)*perByte - 50*time.Millisecond; w.at.Sub(ws[0].at) < min {
			t.Errorf("write %d (byte %d) at +%s, before the line could carry the bytes before it (+%s)", i, off, w.at.Sub(ws[0].at), min)
		}
		off += len(w.data)
	}
	if jobs := r.fake.Jobs(); len(jobs) != 1 || !bytes.Equal(jobs[0], job) {
		t.Fatalf("printer got %d jobs", len(jobs))
	}
}

// TestASBPackets: 4-byte ASB packets arriving unsolicited, interleaved with (and split around)
// the answers to DLE EOT and GS r, update the status and health without being taken for
// answers.
func TestASBPackets(t *testing.T) {
	t.Run("interleaved with answers", func(t *testing.T) {
		r := newRig(serialInfo(115200, "xonxoff"))
		r.fake.NearEnd(true)
		e := startFlow(t, r, func(c *Config) { c.PollInterval = 200 * time.Millisecond }, nil)
		// Before every answer, an ASB packet, its first byte written apart from the rest.
		r.setHooks(nil, func(out io.Writer, ans []byte) error {
			if _, err := out.Write(asbNearEnd[:1]); err != nil {
				return err
			}
			if _, err := out.Write(asbNearEnd[1:]); err != nil {
				return err
			}
			_, err := out.Write(ans)
			return err
		})
		e.ready(t)
		for i := range 5 {
			r.send(asbNearEnd) // unsolicited, while idle
			if err := e.svc.Refresh(context.Background()); err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
			st, known, linkErr := e.svc.Status()
			if !known || linkErr != nil || !st.Online || !st.PaperNearEnd || st.PaperEnd || st.CoverOpen || st.Error || st.CutterError {
				t.Fatalf("refresh %d: status %s (known %v, link %v)", i, st, known, linkErr)
			}
			if err := e.svc.Ready(context.Background()); err != nil {
				t.Fatalf("refresh %d: not ready: %v", i, err)
			}
		}
		if c, ok := e.health.Get("printer.paper_near_end"); !ok || c.Severity != device.Warning {
			t.Errorf("no near-end warning: %v", e.health.List())
		}
		for _, bad := range []string{"printer.offline", "printer.error", "printer.paper_out", "printer.cover_open"} {
			if _, ok := e.health.Get(bad); ok {
				t.Errorf("%s raised: %v", bad, e.health.List())
			}
		}
		job := textJob("ASBJOB", 2000)
		if err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job}); err != nil {
			t.Fatalf("print (GS r 1 answered after an ASB packet): %v", err)
		}
		if jobs := r.fake.Jobs(); len(jobs) != 1 || !bytes.Equal(jobs[0], job) {
			t.Fatalf("printer got %d jobs", len(jobs))
		}
		if e.logs.has("printer status byte not understood") {
			t.Error("an ASB byte was taken for a DLE EOT answer")
		}
	})

	t.Run("updates status and health by itself", func(t *testing.T) {
		// The printer's near-end sensor trips during a job: it sends ASB, then XOFF. While the
		// job is paused no DLE EOT is asked (and the fake's answers would say "not near end"),
		// so only the ASB packet can raise the warning.
		r := newRig(serialInfo(115200, "xonxoff"))
		nearEnd := make(chan struct{}, 1)
		health := device.NewHealth(nil)
		health.OnChange(func(c device.Change) {
			if c.Name == "printer.paper_near_end" && c.Active {
				select {
				case nearEnd <- struct{}{}:
				default:
				}
			}
		})
		e := startFlow(t, r, nil, func(o *Options) { o.Health = health })
		e.health = health
		e.ready(t)
		if st, _, _ := e.svc.Status(); st.PaperNearEnd {
			t.Fatal("near end before the ASB packet")
		}
		job := textJob("ASBPAUSE", 3000)
		xoffSent := make(chan time.Time, 1)
		r.setHooks(xoffAfter(r, job, 700, asbNearEnd, xoffSent), nil)
		done := make(chan error, 1)
		go func() { done <- e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job}) }()
		select {
		case <-nearEnd:
		case err := <-done:
			t.Fatalf("job ended before the ASB packet was seen: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("no near-end warning from the ASB packet: %v", health.List())
		}
		st, known, _ := e.svc.Status()
		if !known || !st.PaperNearEnd || !st.Online || st.PaperEnd {
			t.Errorf("status during the pause: %s", st)
		}
		r.fake.NearEnd(true) // the sensor, as DLE EOT 4 will read it from now on
		r.send([]byte{xon})
		if err := <-done; err != nil {
			t.Fatalf("job after XON: %v", err)
		}
		if _, ok := health.Get("printer.paper_near_end"); !ok {
			t.Errorf("near-end warning gone: %v", health.List())
		}
		if err := e.svc.Ready(context.Background()); err != nil {
			t.Errorf("near end must not block printing: %v", err)
		}
	})
}

// TestLateAnswerNotTakenForTheNext: an answer that comes after StatusTimeout is not taken for
// the next request's. (It was, and every later poll then decoded DLE EOT n's answer as n+1's:
// a printer with paper near end, DLE EOT 4 = 0x1E, read as offline for good.)
func TestLateAnswerNotTakenForTheNext(t *testing.T) {
	r := newRig(device.LinkInfo{URI: "tcp://127.0.0.1:9100", Kind: "tcp", CanRead: true})
	r.fake.NearEnd(true)
	e := startFlow(t, r, func(c *Config) { c.StatusTimeout = 100 * time.Millisecond }, nil)
	e.ready(t)

	late := make(chan struct{})
	var once sync.Once
	r.setHooks(nil, func(out io.Writer, ans []byte) error {
		delayed := false
		once.Do(func() { delayed = true })
		if delayed {
			time.Sleep(400 * time.Millisecond) // the printer is slow to answer, once
			defer close(late)
		}
		_, err := out.Write(ans)
		return err
	})
	if err := e.svc.Refresh(context.Background()); code(err) != "printer.offline" {
		t.Fatalf("refresh with a late answer: %v, want printer.offline (no answer)", err)
	}
	<-late
	for i := range 3 {
		if err := e.svc.Refresh(context.Background()); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		st, _, _ := e.svc.Status()
		if rerr := e.svc.Ready(context.Background()); !st.Online || !st.PaperNearEnd || rerr != nil {
			t.Errorf("refresh %d after the printer answers again: status %s, ready %v; want online with paper near end, ready", i, st, rerr)
		}
	}
}
