package printer

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/printer/printertest"
	"github.com/totemd/totemd/printer/virtual"
	"github.com/totemd/totemd/sync/journal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// tcpPrinter is a fake printer on a loopback port (printertest.Server), closed with the test.
type tcpPrinter struct {
	*printertest.Server
	fake *printertest.Fake
}

func newTCPPrinter(t *testing.T) *tcpPrinter {
	t.Helper()
	s, err := printertest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &tcpPrinter{Server: s, fake: s.Fake}
}

func (p *tcpPrinter) uri() string { return p.URI() + "?timeout=1s" }
func (p *tcpPrinter) unplug()     { p.Unplug() }
func (p *tcpPrinter) replug()     { p.Replug() }

type env struct {
	svc    *Service
	store  *journal.Store
	health *device.Health
}

func newEnv(t *testing.T, uri string, mod func(*Config)) *env {
	t.Helper()
	store, err := journal.Open(journal.Options{Path: filepath.Join(t.TempDir(), "j.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Device = uri
	cfg.PollInterval = 200 * time.Millisecond
	cfg.StatusTimeout = 300 * time.Millisecond
	cfg.JobTimeout = 2 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	e := &env{store: store, health: device.NewHealth(nil)}
	e.svc, err = New(Options{Config: cfg, Store: store, Health: e.health, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close(); store.Close() })
	return e
}

// eventually waits (with a failure deadline) until cond holds, refreshing the status.
func (e *env) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out (health %v)", what, e.health.List())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = e.svc.Refresh(ctx)
		cancel()
	}
}

func sampleTicket() payment.Ticket {
	return payment.Ticket{Number: "A042", SessionID: "01M83K07F9FZP42D3M8WK1QM68", Method: payment.MethodPix,
		Items: []payment.Item{{SKU: "CONSULTA", Name: "Consulta clínica", UnitCents: 15000, Qty: 1}}, Total: 15000,
		PaidAt: time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC), Pix: &payment.PixData{E2EID: "E12345678202611231430ABCDEFGHIJK"}}
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return payment.AsError(err).Code
}

func TestPrintOverTCP(t *testing.T) {
	p := newTCPPrinter(t)
	e := newEnv(t, p.uri(), nil)
	e.eventually(t, "ready", func() bool { return e.svc.Ready(context.Background()) == nil })
	ctx := context.Background()
	if err := e.svc.PrintTicket(ctx, sampleTicket()); err != nil {
		t.Fatalf("print: %v", err)
	}
	jobs := p.fake.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("printer got %d jobs", len(jobs))
	}
	r, err := virtual.Render(jobs[0], virtual.Options{Dots: 576})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "A   0   4   2") { // the number at 4x width
		t.Errorf("no big ticket number:\n%s", r.Text)
	}
	for _, want := range []string{"SENHA", "Consulta clínica", "R$ 150,00", "E12345678202611231430ABCDEFGHIJK", "23/11/2026 11:30:00"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("printed ticket lacks %q:\n%s", want, r.Text)
		}
	}
	if len(r.QRs) != 1 || r.QRs[0] != "01M83K07F9FZP42D3M8WK1QM68" || r.Cuts != 1 || len(r.Unknown) != 0 {
		t.Errorf("QRs %v cuts %d unknown %v", r.QRs, r.Cuts, r.Unknown)
	}
	list, err := e.svc.Jobs(10)
	if err != nil || len(list) != 1 || list[0].State != JobPrinted || list[0].Ticket != "A042" {
		t.Fatalf("jobs %+v %v", list, err)
	}
}

func TestRefusalsAndFailures(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(f *printertest.Fake)
		wantCode  string
		wantJobs  int
		condition string
	}{
		{"paper out before the job", func(f *printertest.Fake) { f.PaperOut(true) }, "printer.paper_out", 0, "printer.paper_out"},
		{"cover open", func(f *printertest.Fake) { f.CoverOpen(true) }, "printer.cover_open", 0, "printer.cover_open"},
		{"paper ends in the middle", func(f *printertest.Fake) { f.PaperLeft(120) }, "printer.paper_out", 0, "printer.paper_out"},
		{"switched off", func(f *printertest.Fake) { f.Silent(true) }, "printer.offline", 0, "printer.offline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newTCPPrinter(t)
			e := newEnv(t, p.uri(), nil)
			e.eventually(t, "ready", func() bool { return e.svc.Ready(context.Background()) == nil })
			c.setup(p.fake)
			err := e.svc.PrintTicket(context.Background(), sampleTicket())
			if code(err) != c.wantCode {
				t.Fatalf("print: %v, want code %s", err, c.wantCode)
			}
			if n := len(p.fake.Jobs()); n != c.wantJobs {
				t.Errorf("%d complete jobs at the printer, want %d", n, c.wantJobs)
			}
			if _, ok := e.health.Get(c.condition); !ok {
				t.Errorf("no %s condition: %v", c.condition, e.health.List())
			}
			if code(e.svc.Ready(context.Background())) == "" {
				t.Error("Ready says ok")
			}
			list, _ := e.svc.Jobs(10)
			if len(list) != 1 || list[0].State != JobFailed || list[0].Error != c.wantCode {
				t.Fatalf("job not kept as failed: %+v", list)
			}
			// Fixed by a person: the same job reprints.
			p.fake.PaperOut(false)
			p.fake.CoverOpen(false)
			p.fake.Silent(false)
			e.eventually(t, "ready again", func() bool { return e.svc.Ready(context.Background()) == nil })
			if _, ok := e.health.Get(c.condition); ok {
				t.Errorf("%s still raised after the fix", c.condition)
			}
			if err := e.svc.Reprint(context.Background(), list[0].ID); err != nil {
				t.Fatalf("reprint: %v", err)
			}
			if n := len(p.fake.Jobs()); n != c.wantJobs+1 {
				t.Errorf("%d jobs after the reprint", n)
			}
		})
	}
}

func TestNearEndWarns(t *testing.T) {
	p := newTCPPrinter(t)
	e := newEnv(t, p.uri(), nil)
	p.fake.NearEnd(true)
	e.eventually(t, "near-end warning", func() bool { _, ok := e.health.Get("printer.paper_near_end"); return ok })
	if err := e.svc.PrintTicket(context.Background(), sampleTicket()); err != nil {
		t.Fatalf("near end must not block printing: %v", err)
	}
	if c, _ := e.health.Get("printer.paper_near_end"); c.Severity != device.Warning {
		t.Errorf("near end severity %s", c.Severity)
	}
}

// TestReadyAtStart asks Ready the moment the service started, while the first status read is
// still under way: the answer is the printer's real state, never a guess made before it was
// read (a refusal of a fine printer, or an acceptance for one without paper).
func TestReadyAtStart(t *testing.T) {
	slow := func(c *Config) { c.StatusTimeout = 2 * time.Second }
	tests := []struct {
		name    string
		printer func(f *printertest.Fake)
		want    string
	}{
		{"ready", func(f *printertest.Fake) {}, ""},
		{"paper out", func(f *printertest.Fake) { f.PaperOut(true) }, "printer.paper_out"},
		{"cover open", func(f *printertest.Fake) { f.CoverOpen(true) }, "printer.cover_open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTCPPrinter(t)
			tt.printer(p.fake)
			p.fake.Slow(100 * time.Millisecond) // four status bytes: the first read takes 400 ms
			e := newEnv(t, p.uri(), slow)
			if got := code(e.svc.Ready(context.Background())); got != tt.want {
				t.Errorf("Ready at start: %q, want %q (health %v)", got, tt.want, e.health.List())
			}
		})
	}
}

// TestReadyAtStartGivesUp: a caller that cannot wait for the first look is told the printer
// has not answered yet.
func TestReadyAtStartGivesUp(t *testing.T) {
	p := newTCPPrinter(t)
	p.fake.Slow(time.Second)
	e := newEnv(t, p.uri(), func(c *Config) { c.StatusTimeout = 2 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.svc.Ready(ctx); code(err) != "printer.offline" || !strings.Contains(err.Error(), "ainda não respondeu") {
		t.Errorf("Ready with a short deadline at start: %v", err)
	}
}

// TestProfileWithoutStatus: a model whose status cannot be read prints on a link that could
// read; it is never refused for a status it does not have, and health says status is
// unavailable.
func TestProfileWithoutStatus(t *testing.T) {
	p := newTCPPrinter(t)
	cfg := DefaultConfig()
	cfg.Device = p.uri()
	h := device.NewHealth(nil)
	svc, err := New(Options{Config: cfg, Health: h, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc.prof.Status = "none"
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if c, ok := h.Get("printer.status_unavailable"); !ok || !strings.Contains(c.Message, "perfil") {
		t.Errorf("health: %v", h.List())
	}
	if _, known, _ := svc.Status(); known {
		t.Error("Status says known for a profile that reads none")
	}
}

func TestUnplugReplug(t *testing.T) {
	p := newTCPPrinter(t)
	e := newEnv(t, p.uri(), nil)
	e.eventually(t, "ready", func() bool { return e.svc.Ready(context.Background()) == nil })
	p.unplug()
	e.eventually(t, "offline after the unplug", func() bool { return code(e.svc.Ready(context.Background())) == "printer.offline" })
	if err := e.svc.PrintTicket(context.Background(), sampleTicket()); code(err) != "printer.offline" {
		t.Fatalf("print while unplugged: %v", err)
	}
	p.replug()
	e.eventually(t, "ready after the replug", func() bool { return e.svc.Ready(context.Background()) == nil })
	if err := e.svc.PrintTicket(context.Background(), sampleTicket()); err != nil {
		t.Fatalf("print after replug: %v", err)
	}
	list, _ := e.svc.Jobs(10)
	if len(list) != 2 || list[0].State != JobPrinted || list[1].State != JobFailed {
		t.Fatalf("jobs: %+v", list)
	}
}

// TestSerialPTY prints over a real pty pair: the service opens one end as a serial port, the
// fake printer serves the other.
func TestSerialPTY(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	ctx, cancel := context.WithCancel(context.Background())
	socat := exec.CommandContext(ctx, "socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := socat.Start(); err != nil {
		t.Fatalf("socat (apt-get install socat): %v", err)
	}
	defer func() { cancel(); _ = socat.Wait() }()
	for i := 0; ; i++ {
		if _, err := os.Stat(b); err == nil {
			if _, err := os.Stat(a); err == nil {
				break
			}
		}
		if i > 500 {
			t.Fatal("socat did not create the pty pair")
		}
		time.Sleep(10 * time.Millisecond) // waiting for another process to start
	}
	far, err := os.OpenFile(b, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fake := printertest.New()
	served := make(chan error, 1)
	go func() { served <- fake.Serve(far) }()
	e := newEnv(t, "serial://"+a+"?baud=115200", nil)
	e.eventually(t, "ready", func() bool { return e.svc.Ready(context.Background()) == nil })
	if err := e.svc.PrintTicket(context.Background(), sampleTicket()); err != nil {
		t.Fatalf("print over the pty: %v", err)
	}
	if len(fake.Jobs()) != 1 {
		t.Fatalf("%d jobs", len(fake.Jobs()))
	}
	fake.PaperOut(true)
	if err := e.svc.PrintTicket(context.Background(), sampleTicket()); code(err) != "printer.paper_out" {
		t.Fatalf("paper out over the pty: %v", err)
	}
	e.svc.Close()
	far.Close()
	if err := <-served; err != nil && !errors.Is(err, os.ErrClosed) && !strings.Contains(err.Error(), "input/output error") {
		t.Logf("fake printer ended: %v", err)
	}
}

// TestDeviceFile prints to a write-only device file: status is unavailable, never invented.
func TestDeviceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "file://"+path, nil)
	e.eventually(t, "link open", func() bool { _, _, err := e.svc.Status(); return err == nil })
	if err := e.svc.Ready(context.Background()); err != nil {
		t.Fatalf("ready on a write-only link: %v", err)
	}
	if err := e.svc.PrintTicket(context.Background(), sampleTicket()); err != nil {
		t.Fatalf("print: %v", err)
	}
	data, _ := os.ReadFile(path)
	r, _ := virtual.Render(data, virtual.Options{Dots: 576})
	if !strings.Contains(r.Text, "A   0   4   2") {
		t.Errorf("file holds:\n%s", r.Text)
	}
	if _, known, _ := e.svc.Status(); known {
		t.Error("status claimed known on a write-only link")
	}
	if _, ok := e.health.Get("printer.status_unavailable"); !ok {
		t.Error("no printer.status_unavailable condition")
	}
}

// TestJobsSurviveRestart: a job left printing by a crash is kept as failed and reprints.
func TestJobsSurviveRestart(t *testing.T) {
	p := newTCPPrinter(t)
	path := filepath.Join(t.TempDir(), "j.db")
	store, err := journal.Open(journal.Options{Path: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := New(Options{Config: func() Config { c := DefaultConfig(); c.Device = p.uri(); return c }(), Store: store, Logger: quiet})
	j := &Job{ID: payment.NewID(time.Now()), Kind: "ticket", Ticket: "A001", Bytes: []byte("\x1b@A001\n\x1dVA\x00"), State: JobPrinting,
		Created: time.Now(), Updated: time.Now()}
	if err := s1.save(j); err != nil {
		t.Fatal(err)
	}
	store.Close()

	store, err = journal.Open(journal.Options{Path: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := DefaultConfig()
	cfg.Device, cfg.PollInterval = p.uri(), 200*time.Millisecond
	s2, err := New(Options{Config: cfg, Store: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Job(j.ID)
	if err != nil || got.State != JobFailed || got.Error != "printer.interrupted" {
		t.Fatalf("interrupted job: %+v %v", got, err)
	}
	if err := s2.Reprint(context.Background(), j.ID); err != nil {
		t.Fatalf("reprint: %v", err)
	}
	if jobs := p.fake.Jobs(); len(jobs) != 1 || !strings.Contains(string(jobs[0]), "A001") {
		t.Fatalf("printer jobs %q", jobs)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Device = "tcp://127.0.0.1:9100" }, ""},
		{func(c *Config) { c.Device = "lpt1" }, "device"},
		{func(c *Config) { c.Profile = "epson-tm-t1000" }, "profile"},
		{func(c *Config) { c.Profile = "TM-T88IV" }, ""}, // escpos-printer-db model
		{func(c *Config) { c.PollInterval = time.Millisecond }, "poll_interval"},
		{func(c *Config) { c.Ticket.Code = "pdf417" }, "ticket.code"},
		{func(c *Config) { c.Ticket.Logo = "/nope.png" }, "ticket.logo"},
	}
	for i, c := range cases {
		cfg := DefaultConfig()
		c.mod(&cfg)
		err := cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("case %d: %v, want %q", i, err, c.want)
		}
	}
}

// TestReceiptAndTicketPrinted: a receipt copy prints as its own job, and TicketPrinted answers
// from the jobs kept: only a ticket job that reached "printed" counts.
func TestReceiptAndTicketPrinted(t *testing.T) {
	p := newTCPPrinter(t)
	e := newEnv(t, p.uri(), nil)
	e.eventually(t, "ready", func() bool { return e.svc.Ready(context.Background()) == nil })
	ctx := context.Background()
	tk := sampleTicket()
	if ok, err := e.svc.TicketPrinted(ctx, tk.SessionID); ok || err != nil {
		t.Fatalf("TicketPrinted before any print: %v %v", ok, err)
	}
	lines := []string{"REDE - VISA", "VIA ESTABELECIMENTO", "NSU: 123456   AUT: 654321"}
	if err := e.svc.PrintReceipt(ctx, tk.SessionID, tk.Number, lines, "VIA ESTABELECIMENTO"); err != nil {
		t.Fatalf("PrintReceipt: %v", err)
	}
	if ok, _ := e.svc.TicketPrinted(ctx, tk.SessionID); ok {
		t.Fatal("a receipt counted as the ticket")
	}
	if err := e.svc.PrintTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.svc.TicketPrinted(ctx, tk.SessionID); !ok || err != nil {
		t.Fatalf("TicketPrinted after the ticket: %v %v", ok, err)
	}
	jobs := p.fake.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("printer got %d jobs", len(jobs))
	}
	r, err := virtual.Render(jobs[0], virtual.Options{Dots: 576})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range lines {
		if !strings.Contains(r.Text, want) {
			t.Errorf("receipt lacks %q:\n%s", want, r.Text)
		}
	}
}
