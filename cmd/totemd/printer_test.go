package main

// `totemd printer ...` run as the real binary, against a fake ESC/POS printer served on a
// loopback port by this test process.

import (
	"bytes"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/totemd/totemd/printer/printertest"
	"github.com/totemd/totemd/printer/virtual"
)

// tcpFakePrinter is a fake printer on 127.0.0.1 (printertest.Server), closed with the test.
type tcpFakePrinter struct {
	*printertest.Server
	fake *printertest.Fake
}

func serveFakePrinter(t *testing.T) *tcpFakePrinter {
	t.Helper()
	s, err := printertest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &tcpFakePrinter{Server: s, fake: s.Fake}
}

func (p *tcpFakePrinter) uri() string { return p.URI() }

// deadPort is a loopback port nobody listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPrinterSampleAndRender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.bin")
	out, stderr, code := runCLI(t, "printer", "sample", "--out", sample, "--profile", "generic-58")
	if code != 0 || !strings.Contains(out, "generic-58") {
		t.Fatalf("sample: exit %d\n%s%s", code, out, stderr)
	}
	if fi, err := os.Stat(sample); err != nil || fi.Size() == 0 {
		t.Fatalf("sample file: %v", err)
	}

	text, stderr, code := runCLI(t, "printer", "render", sample, "--text", "--width", "58")
	if code != 0 {
		t.Fatalf("render --text: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"PAGUE COM PIX", "SENHA", "CLÍNICA DEMONSTRAÇÃO", "[QR 000201", "--- partial cut ---"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered sample lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(stderr, "aviso") {
		t.Errorf("render warned about the sample's bytes:\n%s", stderr)
	}
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if n := len([]rune(line)); n > 42 && !strings.HasPrefix(line, "[") { // 42: font B at 384 dots
			t.Errorf("line %d is %d columns wide on 58 mm paper: %q", i+1, n, line)
		}
	}

	pngPath := filepath.Join(dir, "sample.png")
	_, stderr, code = runCLI(t, "printer", "render", "--png", pngPath, "--width", "58", sample)
	if code != 0 {
		t.Fatalf("render --png: exit %d: %s", code, stderr)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if cfg.Width != 384 || cfg.Height < 100 {
		t.Errorf("PNG %dx%d, want 384 wide (58 mm)", cfg.Width, cfg.Height)
	}
}

func TestPrinterProfilesAndList(t *testing.T) {
	t.Parallel()
	out, stderr, code := runCLI(t, "printer", "profiles")
	if code != 0 {
		t.Fatalf("profiles: exit %d: %s", code, stderr)
	}
	lines := strings.Split(out, "\n")
	for _, want := range []string{"custom-vkp80", "TM-T88IV", "generic-80", "bematech-mp4200th"} {
		found := false
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 1 && f[0] == want {
				found = true
			}
		}
		if !found {
			t.Errorf("profiles does not list %s:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "kiosk printer with presenter") {
		t.Errorf("no description for custom-vkp80:\n%s", out)
	}

	out, stderr, code = runCLI(t, "printer", "list")
	if code != 0 || !strings.Contains(out, "URI") {
		t.Fatalf("list: exit %d\n%s%s", code, out, stderr)
	}
}

func TestPrinterStatusAgainstFake(t *testing.T) {
	t.Parallel()
	p := serveFakePrinter(t)
	out, stderr, code := runCLI(t, "printer", "status", "--device", p.uri())
	if code != 0 {
		t.Fatalf("status of a ready printer: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"Impressora  " + p.uri(), "Online      sim", "Sem papel   não", "Tampa aberta não", "Guilhotina  ok", "Erro        não"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	p.fake.NearEnd(true)
	out, _, code = runCLI(t, "printer", "status", "--device", p.uri())
	if code != 0 || !strings.Contains(out, "Papel no fim sim") {
		t.Errorf("near end (printing still possible): exit %d\n%s", code, out)
	}

	p.fake.PaperOut(true)
	out, stderr, code = runCLI(t, "printer", "status", "--device", p.uri())
	if code != 1 {
		t.Errorf("status without paper: exit %d, want 1\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"Sem papel   sim", "Online      não"} {
		if !strings.Contains(out, want) {
			t.Errorf("status without paper lacks %q:\n%s", want, out)
		}
	}
	if len(p.fake.Jobs()) != 0 {
		t.Error("status printed something")
	}
}

func TestPrinterTestPage(t *testing.T) {
	t.Parallel()
	p := serveFakePrinter(t)
	out, stderr, code := runCLI(t, "printer", "test", "--device", p.uri())
	if code != 0 || !strings.Contains(out, "impresso e confirmado") {
		t.Fatalf("test page: exit %d\n%s%s", code, out, stderr)
	}
	jobs := p.fake.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("printer got %d jobs, want 1", len(jobs))
	}
	r, err := virtual.Render(jobs[0], virtual.Options{Dots: 576})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Ação São João", "Perfil: generic-80", "Tabela: CP860 (slot 3)", "[QR https://totemd.example/teste]", "[CODE128 TOTEMD-123]"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("test page lacks %q:\n%s", want, r.Text)
		}
	}
	if r.Cuts != 1 || len(r.Unknown) != 0 {
		t.Errorf("%d cuts, unknown %v", r.Cuts, r.Unknown)
	}

	// Out of paper: refused, nothing printed, exit 1.
	p.fake.PaperOut(true)
	out, _, code = runCLI(t, "printer", "test", "--device", p.uri())
	if code != 1 || !strings.Contains(out, "FALHA") || !strings.Contains(out, "printer.paper_out") {
		t.Errorf("test page without paper: exit %d\n%s", code, out)
	}
	if n := len(p.fake.Jobs()); n != 1 {
		t.Errorf("%d jobs after the refused test page", n)
	}
}

func TestPrinterUnreachable(t *testing.T) {
	t.Parallel()
	uri := "tcp://" + deadPort(t)
	for _, cmd := range []string{"test", "status"} {
		out, stderr, code := runCLI(t, "printer", cmd, "--device", uri)
		if code != 1 || !strings.Contains(out, "FALHA") {
			t.Errorf("printer %s on a dead port: exit %d, want 1 with FALHA\n%s%s", cmd, code, out, stderr)
		}
		if strings.Contains(out, "impresso") {
			t.Errorf("printer %s on a dead port claims success:\n%s", cmd, out)
		}
	}
}

func TestPrinterBadUsage(t *testing.T) {
	t.Parallel()
	sample := filepath.Join(t.TempDir(), "x.bin")
	if err := os.WriteFile(sample, []byte("\x1b@Ola\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"printer"},
		{"printer", "imprimir"},
		{"printer", "status", "--bogus"},
		{"printer", "status", "--device", "tcp://127.0.0.1:9", "extra"},
		{"printer", "test", "--device"},
		{"printer", "sample"},
		{"printer", "sample", "--profile", "generic-58"},
		{"printer", "render"},
		{"printer", "render", sample},
		{"printer", "render", sample, "--text", "--width", "70"},
		{"printer", "render", sample, sample, "--text"},
		{"printer", "render", sample, "--text", "--colour"},
	}
	for _, args := range cases {
		out, stderr, code := runCLI(t, args...)
		if code != 2 {
			t.Errorf("totemd %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, stderr)
			continue
		}
		if !strings.Contains(stderr, "usage") {
			t.Errorf("totemd %s: no usage on stderr: %q", strings.Join(args, " "), stderr)
		}
	}
	// A bad value is not bad usage: an unknown profile is an error (exit 1) naming the choices.
	out, stderr, code := runCLI(t, "printer", "sample", "--out", filepath.Join(t.TempDir(), "y.bin"), "--profile", "epson-tm-t1000")
	if code != 1 || !strings.Contains(stderr, "epson-tm-t1000") || !strings.Contains(stderr, "generic-80") {
		t.Errorf("unknown profile: exit %d\n%s%s", code, out, stderr)
	}
	if !bytes.Contains([]byte(stderr), []byte("TM-T88IV")) {
		t.Errorf("unknown profile: the error does not list the database models: %s", stderr)
	}
}
