package main

// `totemd tef ...` and `totemd sim tef` run as the real binary, against a TEF manager
// simulator (tefsim) served by this test process over TCP and over the file exchange. The
// simulator's ledger says what the GP made of each command.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/totemd/totemd/payment/tef/tefsim"
	"github.com/totemd/totemd/printer/virtual"
)

// tefSim is an in-process simulator with short delays and its ledger in a directory.
type tefSim struct {
	*tefsim.Sim
	logs *syncBuffer
}

func newTEFSim(t *testing.T) *tefSim {
	t.Helper()
	logs := &syncBuffer{}
	s, err := tefsim.New(tefsim.Options{
		PINPadDelay: 10 * time.Millisecond,
		StatusDelay: 5 * time.Millisecond,
		Dir:         t.TempDir(),
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("simulator log:\n%s", tail(logs.String(), 60))
		}
	})
	return &tefSim{Sim: s, logs: logs}
}

// states lists the ledger's transaction states, oldest first.
func (s *tefSim) states() []string {
	var out []string
	for _, tx := range s.Ledger() {
		out = append(out, tx.State)
	}
	return out
}

func (s *tefSim) wantStates(t *testing.T, want ...string) []tefsim.Tx {
	t.Helper()
	if got := s.states(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("simulator ledger states %q, want %q", got, want)
	}
	return s.Ledger()
}

// tefTransport serves one transport of a simulator and returns its device URI.
type tefTransport struct {
	name  string
	serve func(t *testing.T, s *tefSim) string
}

var tefTransports = []tefTransport{
	{"tcp", func(t *testing.T, s *tefSim) string {
		t.Helper()
		addr, err := s.ListenTCP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return "tcp://" + addr
	}},
	{"file", func(t *testing.T, s *tefSim) string {
		t.Helper()
		root := t.TempDir()
		if err := s.ServeFiles(filepath.Join(root, "req"), filepath.Join(root, "resp")); err != nil {
			t.Fatal(err)
		}
		return "file://" + root
	}},
}

// runTEF runs `totemd tef args...`.
func runTEF(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLI(t, append([]string{"tef"}, args...)...)
}

// mustTEF runs `totemd tef args...` and requires exit 0.
func mustTEF(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runTEF(t, args...)
	if code != 0 {
		t.Fatalf("totemd tef %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// wantIn requires every want in s.
func wantIn(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// tefConfigFile writes a config with a state dir of its own and the extra YAML.
func tefConfigFile(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "totemd.yaml")
	body := fmt.Sprintf("kiosk:\n  id: tef-test-01\nstate_dir: %s\n%s", filepath.Join(dir, "state"), extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cancelHintArgs returns the arguments of the "To cancel it: totemd tef cancel ..." line.
func cancelHintArgs(t *testing.T, out string) []string {
	t.Helper()
	const prefix = "To cancel it: totemd tef "
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no %q line in:\n%s", prefix, out)
	return nil
}

// TestTEFCommands runs every tef command over both transports.
func TestTEFCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, s *tefSim, dev string)
	}{
		{"status", func(t *testing.T, s *tefSim, dev string) {
			if out := mustTEF(t, "status", "--device", dev); out != "TEF OK: "+dev+"\n" {
				t.Errorf("status: %q", out)
			}
			_, errOut, _ := runTEF(t, "status", "-v", "--device", dev)
			wantIn(t, "status -v stderr", errOut, "tef: request sent", "tef: response", "command=ATV")
			s.wantStates(t)
		}},
		{"status with the GP down", func(t *testing.T, s *tefSim, dev string) {
			cfg := tefConfigFile(t, "tef:\n  device: "+dev+"\n  status_timeout: 1500ms\n")
			s.SetDown(true)
			out, errOut, code := runTEF(t, "status", "--config", cfg)
			if code != 1 || strings.Contains(out, "TEF OK") {
				t.Errorf("status of a GP that is down: exit %d\n%s%s", code, out, errOut)
			}
			wantIn(t, "status stderr", errOut, "TEF não responde: "+dev, "check:", "process is running", "tef.device")
			if root, ok := strings.CutPrefix(dev, "file://"); ok {
				wantIn(t, "status stderr", errOut, "the GP watches "+filepath.Join(root, "req"))
				if _, err := os.Stat(filepath.Join(root, "req", tefsim.RequestFile)); !os.IsNotExist(err) {
					t.Errorf("the unanswered request was left in REQ (%v): the GP would run it once up", err)
				}
			}
			s.SetDown(false)
			if out := mustTEF(t, "status", "--config", cfg); out != "TEF OK: "+dev+"\n" {
				t.Errorf("status once the GP is up again: %q", out)
			}
		}},
		{"sale confirmed", func(t *testing.T, s *tefSim, dev string) {
			out := mustTEF(t, "sale", "--amount", "10.00", "--device", dev)
			tx := s.wantStates(t, tefsim.StateConfirmed)[0]
			wantIn(t, "sale", out, "Sale approved: REDE NSU "+tx.NSU, "R$ 10,00 (credit)", "VIA CLIENTE", "CREDITO A VISTA",
				"DOC: TESTE", "Confirmed (CNF)")
			if tx.AmountCents != 1000 || tx.Document != "TESTE" {
				t.Errorf("ledger: %+v", tx)
			}
			if strings.Contains(out, `"`) {
				t.Errorf("receipt lines printed with their quotes:\n%s", out)
			}
		}},
		{"sale undone", func(t *testing.T, s *tefSim, dev string) {
			out := mustTEF(t, "sale", "--amount", "12,34", "--undo", "--device", dev)
			tx := s.wantStates(t, tefsim.StateUndone)[0]
			wantIn(t, "sale --undo", out, "VIA CLIENTE", "Undone (NCN)", "NSU "+tx.NSU, "R$ 12,34")
			if tx.AmountCents != 1234 || strings.Contains(out, "CNF") {
				t.Errorf("ledger %+v\n%s", tx, out)
			}
		}},
		{"sale declined", func(t *testing.T, s *tefSim, dev string) {
			out, errOut, code := runTEF(t, "sale", "--amount", "10.51", "--device", dev)
			if code != 1 {
				t.Errorf("declined sale: exit %d", code)
			}
			wantIn(t, "declined sale", out, "NOT approved: 009-000 = 51", "TRANSACAO NEGADA", "NAO AUTORIZADA. CONSULTE O EMISSOR")
			wantIn(t, "declined sale stderr", errOut, "sale not approved by the TEF manager (009-000 = 51)")
			s.wantStates(t)
			if strings.Contains(s.logs.String(), "command=CNF") || strings.Contains(s.logs.String(), "command=NCN") {
				t.Error("a CNF or NCN was sent for a declined sale")
			}
		}},
		{"sale without confirmation", func(t *testing.T, s *tefSim, dev string) {
			out := mustTEF(t, "sale", "--amount", "10,55", "--debit", "--device", dev)
			tx := s.wantStates(t, tefsim.StateConfirmed)[0]
			wantIn(t, "sale ,55", out, "R$ 10,55 (debit)", "DEBITO A VISTA", "needs no confirmation", "To cancel it: totemd tef cancel --nsu "+tx.NSU)
			if logs := s.logs.String(); strings.Contains(logs, "command=CNF") || strings.Contains(logs, "command=NCN") {
				t.Errorf("a CNF or NCN was sent for a sale that needs no confirmation:\n%s", logs)
			}
			_, errOut, code := runTEF(t, "sale", "--amount", "1.55", "--undo", "--device", dev)
			if code != 1 || !strings.Contains(errOut, "nothing to undo") {
				t.Errorf("--undo of a sale that needs no confirmation: exit %d: %s", code, errOut)
			}
			s.wantStates(t, tefsim.StateConfirmed, tefsim.StateConfirmed)
		}},
		{"sale in installments", func(t *testing.T, s *tefSim, dev string) {
			out := mustTEF(t, "sale", "--amount", "300", "--installments", "3", "--device", dev)
			wantIn(t, "sale in installments", out, "credit in 3 installments", "PARCELADO LOJA 3X", "R$ 300,00")
			s.wantStates(t, tefsim.StateConfirmed)
		}},
		{"cancel", func(t *testing.T, s *tefSim, dev string) {
			out := mustTEF(t, "sale", "--amount", "10", "--device", dev)
			sale := s.wantStates(t, tefsim.StateConfirmed)[0]
			hint := cancelHintArgs(t, out)
			want := []string{"cancel", "--nsu", sale.NSU, "--amount", "10.00", "--network", "REDE", "--timestamp", sale.Timestamp, "--device", dev}
			if strings.Join(hint, " ") != strings.Join(want, " ") {
				t.Fatalf("cancel hint %q, want %q", hint, want)
			}
			out = mustTEF(t, hint...)
			wantIn(t, "cancel", out, "Cancellation approved: REDE NSU ", "(cancels NSU "+sale.NSU+")", "CANCELAMENTO", "R$ 10,00",
				"the cancellation stands")
			s.wantStates(t, tefsim.StateCancelled)

			out, errOut, code := runTEF(t, "cancel", "--nsu", sale.NSU, "--amount", "10,00", "--device", dev)
			if code != 1 {
				t.Errorf("second cancellation: exit %d", code)
			}
			wantIn(t, "second cancellation", out, "009-000 = 61", "TRANSACAO JA CANCELADA")
			wantIn(t, "second cancellation stderr", errOut, "cancellation not approved")
			_, errOut, code = runTEF(t, "cancel", "--nsu", "999999", "--amount", "10", "--timestamp", "nope", "--device", dev)
			if code != 1 || !strings.Contains(errOut, "DDMMhhmmss") {
				t.Errorf("cancel with a bad timestamp: exit %d: %s", code, errOut)
			}
			s.wantStates(t, tefsim.StateCancelled)
		}},
		{"admin", func(t *testing.T, s *tefSim, dev string) {
			mustTEF(t, "sale", "--amount", "2", "--undo", "--device", dev)
			out := mustTEF(t, "admin", "--device", dev)
			wantIn(t, "admin", out, "TEFSIM - RELATORIO", "OPERACAO CONCLUIDA")
			if !regexp.MustCompile(`(?m)^DESFEITAS: +1$`).MatchString(out) {
				t.Errorf("admin report does not count the undone sale:\n%s", out)
			}
			if strings.Contains(out, "CNF") {
				t.Errorf("ADM (729-000 = 1) was confirmed:\n%s", out)
			}
		}},
	}
	for _, tr := range tefTransports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := newTEFSim(t)
					tc.run(t, s, tr.serve(t, s))
					if p := s.Pending(); len(p) != 0 {
						t.Errorf("left pending at the GP: %+v", p)
					}
				})
			}
		})
	}
}

// TestTEFLostApproval: an approval lost on its way (,54 over TCP) is reported as an unknown
// outcome, and the sale after it is refused with the pending transaction named.
func TestTEFLostApproval(t *testing.T) {
	t.Parallel()
	s := newTEFSim(t)
	dev := tefTransports[0].serve(t, s)
	out, errOut, code := runTEF(t, "sale", "--amount", "10.54", "--device", dev)
	if code != 1 || strings.Contains(out, "approved") {
		t.Errorf("lost approval: exit %d\n%s", code, out)
	}
	wantIn(t, "lost approval stderr", errOut, "outcome of the sale is unknown", "totemd tef pending")
	tx := s.wantStates(t, tefsim.StatePending)[0]

	out, errOut, code = runTEF(t, "sale", "--amount", "10.00", "--device", dev)
	if code != 1 {
		t.Errorf("sale while one is pending: exit %d", code)
	}
	wantIn(t, "sale while one is pending", out, "009-000 = 60", "TRANSACAO PENDENTE")
	wantIn(t, "sale while one is pending stderr", errOut, "REDE NSU "+tx.NSU, "resolve it with totemd tef pending")
	s.wantStates(t, tefsim.StatePending)
}

// TestTEFLeftover: an approved response nobody read (a crash between the request and the
// response) is not deleted by a command on the file exchange: the command refuses and names
// it; a leftover with nothing to resolve (009-000 = FF) is no obstacle.
func TestTEFLeftover(t *testing.T) {
	t.Parallel()
	s := newTEFSim(t)
	dev := tefTransports[1].serve(t, s)
	root := strings.TrimPrefix(dev, "file://")
	if _, err := s.LeftoverResponse(tefsim.Leftover{RequestID: "4242", AmountCents: 1990}); err != nil {
		t.Fatal(err)
	}
	tx := s.wantStates(t, tefsim.StatePending)[0]
	leftover := filepath.Join(root, "resp", tefsim.ResponseFile)
	for _, cmd := range [][]string{{"status"}, {"admin"}, {"sale", "--amount", "1"}, {"cancel", "--nsu", "1", "--amount", "1"}} {
		out, errOut, code := runTEF(t, append(cmd, "--device", dev)...)
		if code != 1 || out != "" {
			t.Errorf("tef %s over a leftover approval: exit %d, stdout %q", cmd[0], code, out)
		}
		wantIn(t, "tef "+cmd[0]+" over a leftover approval", errOut, "an approved response nobody read is waiting in "+leftover,
			"CRT 4242: REDE NSU "+tx.NSU, "R$ 19,90", "totemd tef pending")
	}
	if _, err := os.Stat(leftover); err != nil {
		t.Errorf("the leftover response is gone: %v", err)
	}
	s.wantStates(t, tefsim.StatePending)

	// Resolved elsewhere (here: by hand), an aborted leftover (FF) is left: no obstacle.
	if err := os.Remove(leftover); err != nil {
		t.Fatal(err)
	}
	sim2 := newTEFSim(t)
	dev2 := tefTransports[1].serve(t, sim2)
	if _, err := sim2.LeftoverResponse(tefsim.Leftover{AmountCents: 1000, Aborted: true}); err != nil {
		t.Fatal(err)
	}
	if out := mustTEF(t, "status", "--device", dev2); out != "TEF OK: "+dev2+"\n" {
		t.Errorf("status over an aborted leftover: %q", out)
	}
}

// TestTEFUnreachable: a closed port, a missing folder and a bad URI are clear errors.
func TestTEFUnreachable(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nowhere")
	cases := []struct {
		device string
		want   []string
	}{
		{"tcp://" + deadPort(t), []string{"TEF não responde: tcp://", "connection refused", "process is running"}},
		{"file://" + missing, []string{"TEF não responde: file://" + missing, "the GP watches " + filepath.Join(missing, "req")}},
		{"serial:///dev/ttyS0", []string{"tef.device", "unknown scheme"}},
		{"tcp://localhost", []string{"tef.device", "host:port"}},
	}
	for _, tc := range cases {
		for _, cmd := range [][]string{{"status"}, {"admin"}, {"sale", "--amount", "1"}, {"cancel", "--nsu", "1", "--amount", "1"}} {
			out, errOut, code := runTEF(t, append(cmd, "--device", tc.device)...)
			if code != 1 || out != "" {
				t.Errorf("tef %s --device %s: exit %d, stdout %q", cmd[0], tc.device, code, out)
			}
			wantIn(t, "tef "+cmd[0]+" --device "+tc.device, errOut, tc.want...)
		}
	}
}

// TestTEFBadUsage: bad usage exits 2 with the usage; bad values exit 1 naming the problem,
// before anything reaches the TEF manager.
func TestTEFBadUsage(t *testing.T) {
	t.Parallel()
	dead := "tcp://" + deadPort(t)
	usage := [][]string{
		{"tef"},
		{"tef", "frobnicate"},
		{"tef", "status", "extra"},
		{"tef", "status", "--bogus"},
		{"tef", "status", "--device"},
		{"tef", "status", "--config", "x.yaml", "--demo"},
		{"tef", "sale", "--device", dead},
		{"tef", "sale", "--amount"},
		{"tef", "cancel", "--amount", "10", "--device", dead},
		{"tef", "cancel", "--nsu", "123", "--device", dead},
		{"tef", "admin", "--installments", "2"},
		{"sim"},
		{"sim", "frobnicate"},
	}
	for _, args := range usage {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runCLI(t, args...)
			if code != 2 || !strings.Contains(errOut, "usage") {
				t.Errorf("totemd %s: exit %d, want 2 with the usage\n%s%s", strings.Join(args, " "), code, out, errOut)
			}
		})
	}
	_, errOut, _ := runCLI(t, "tef")
	wantIn(t, "tef usage", errOut, "tef status", "tef admin", "tef sale", "tef cancel", "tef pending", "sim tef")
	_, errOut, _ = runCLI(t, "sim")
	wantIn(t, "sim usage", errOut, "totemd sim pix", "totemd sim tef")
	if out := mustTEF(t, "help"); !strings.Contains(out, "tef sale") {
		t.Errorf("tef help: %q", out)
	}

	values := []struct {
		args []string
		want string
	}{
		{[]string{"sale", "--amount", "0"}, `--amount "0": must be more than zero`},
		{[]string{"sale", "--amount", "0,00"}, `--amount "0,00": must be more than zero`},
		{[]string{"sale", "--amount", "-5"}, `--amount "-5": must be more than zero`},
		{[]string{"sale", "--amount", "-0.01"}, "must be more than zero"},
		{[]string{"sale", "--amount", "abc"}, `--amount "abc" is not an amount in reais: write it like 10.00, 10,00 or 10`},
		{[]string{"sale", "--amount", "10.999"}, `"10.999" is not an amount`}, // no thousands separators
		{[]string{"sale", "--amount", "1.000,00"}, `"1.000,00" is not an amount`},
		{[]string{"sale", "--amount", "10,999"}, `"10,999" is not an amount`},
		{[]string{"sale", "--amount", "1,2,3"}, `"1,2,3" is not an amount`},
		{[]string{"sale", "--amount", "10."}, `"10." is not an amount`},
		{[]string{"sale", "--amount", "1e3"}, `"1e3" is not an amount`},
		{[]string{"sale", "--amount", "R$ 10"}, `"R$ 10" is not an amount`},
		{[]string{"sale", "--amount", " "}, "is not an amount"},
		{[]string{"sale", "--amount", "99999999999"}, "is not an amount"},
		{[]string{"sale", "--amount", "10", "--debit", "--installments", "3"}, "a debit sale has no installments"},
		{[]string{"sale", "--amount", "10", "--installments", "100"}, "--installments 100"},
		{[]string{"cancel", "--nsu", "1", "--amount", "dez"}, `"dez"`},
		{[]string{"cancel", "--nsu", "1", "--amount", "-3"}, "must be more than zero"},
	}
	for _, tc := range values {
		args := append(tc.args, "--device", dead)
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runTEF(t, args...)
			if code != 1 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "não responde") {
				t.Errorf("totemd tef %s: exit %d, want 1 with %q (and the GP never asked)\n%s%s", strings.Join(args, " "), code, tc.want, out, errOut)
			}
		})
	}
}

// TestTEFParseAmount: the amounts --amount takes, in centavos.
func TestTEFParseAmount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"10.00": 1000, "10,00": 1000, "10": 1000, "0,5": 50, "0.05": 5, " 7 ": 700, "10,51": 1051,
		"9999999999,99": 999999999999,
	} {
		if got, err := parseTEFAmount(in); err != nil || got != want {
			t.Errorf("parseTEFAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0.00", "-1", "+1", "1.234,56", "1.000", "10.", ",5", "1e3", "R$ 10", "dez", "10 00", "１０"} {
		if got, err := parseTEFAmount(in); err == nil {
			t.Errorf("parseTEFAmount(%q) = %d, want an error", in, got)
		}
	}
}

// TestTEFConfig: the device comes from --config or --device (which needs no config); none
// is a clear error, and a config's device is refused while the daemon that owns it runs.
func TestTEFConfig(t *testing.T) {
	t.Parallel()
	s := newTEFSim(t)
	dev := tefTransports[0].serve(t, s)

	noTEF := tefConfigFile(t, "")
	_, errOut, code := runTEF(t, "status", "--config", noTEF)
	if code != 1 || !strings.Contains(errOut, "no TEF manager configured: set tef.device in the config or pass --device tcp://HOST:PORT | file:///DIR") {
		t.Errorf("a config without tef.device: exit %d: %s", code, errOut)
	}
	if out := mustTEF(t, "status", "--config", noTEF, "--device", dev); out != "TEF OK: "+dev+"\n" {
		t.Errorf("--device over a config without tef: %q", out)
	}
	if out := mustTEF(t, "status", "--demo", "--device", dev); out != "TEF OK: "+dev+"\n" {
		t.Errorf("--demo --device: %q", out)
	}
	_, errOut, code = runTEF(t, "status", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.Contains(errOut, "reading config") {
		t.Errorf("a missing config: exit %d: %s", code, errOut)
	}
	bad := tefConfigFile(t, "tef:\n  device: tcp://127.0.0.1:1\n  status_timeout: 1h\n")
	_, errOut, code = runTEF(t, "status", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "tef.status_timeout") {
		t.Errorf("a config with a bad tef section: exit %d: %s", code, errOut)
	}

	// A config naming the simulator, with a running "daemon" in its state dir.
	stateDir := t.TempDir()
	withTEF := tefConfigFile(t, "tef:\n  device: "+dev+"\n")
	if out := mustTEF(t, "status", "--config", withTEF); out != "TEF OK: "+dev+"\n" {
		t.Errorf("status from the config: %q", out)
	}
	healthz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok","critical_conditions":0,"last_seq":7}`)
	}))
	defer healthz.Close()
	other := httptest.NewServer(http.NotFoundHandler()) // not totemd
	defer other.Close()
	writeAddr := func(addr string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(stateDir, "api.addr"), []byte(addr+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeAddr(strings.TrimPrefix(healthz.URL, "http://"))
	for _, cmd := range [][]string{{"status"}, {"admin"}, {"sale", "--amount", "1"}, {"cancel", "--nsu", "1", "--amount", "1"}} {
		out, errOut, code := runTEF(t, append(cmd, "--config", withTEF, "--state-dir", stateDir)...)
		if code != 1 || out != "" || !strings.Contains(errOut,
			"totemd is running and owns the TEF manager: stop it first (systemctl stop totemd) or pass --device to talk to a manager directly") {
			t.Errorf("tef %s while totemd runs: exit %d\n%s%s", cmd[0], code, out, errOut)
		}
	}
	if out := mustTEF(t, "status", "--config", withTEF, "--state-dir", stateDir, "--device", dev); out != "TEF OK: "+dev+"\n" {
		t.Errorf("--device while totemd runs: %q", out)
	}
	for _, stale := range []string{deadPort(t), strings.TrimPrefix(other.URL, "http://")} {
		writeAddr(stale)
		if out := mustTEF(t, "status", "--config", withTEF, "--state-dir", stateDir); out != "TEF OK: "+dev+"\n" {
			t.Errorf("status with a stale api.addr (%s): %q", stale, out)
		}
	}
	s.wantStates(t)
}

// TestTEFSalePrint: --print puts the customer receipt on the configured printer before the
// CNF; a printer that is not ready stops the sale before it starts; a receipt that could not
// be printed undoes the sale (NCN).
func TestTEFSalePrint(t *testing.T) {
	t.Parallel()
	s := newTEFSim(t)
	dev := tefTransports[0].serve(t, s)
	p := serveFakePrinter(t)
	cfg := tefConfigFile(t, "tef:\n  device: "+dev+"\nprinter:\n  device: "+p.uri()+"\n  profile: generic-80\n")

	out := mustTEF(t, "sale", "--amount", "25.00", "--print", "--config", cfg)
	tx := s.wantStates(t, tefsim.StateConfirmed)[0]
	wantIn(t, "sale --print", out, "Sale approved", "Customer receipt printed", "Confirmed (CNF)")
	if strings.Contains(out, "VIA CLIENTE") {
		t.Errorf("sale --print also wrote the receipt on stdout:\n%s", out)
	}
	if hint := strings.Join(cancelHintArgs(t, out), " "); !strings.HasSuffix(hint, "--timestamp "+tx.Timestamp+" --config "+cfg) {
		t.Errorf("the cancel hint does not name the config: %s", hint)
	}
	jobs := p.fake.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("printer got %d jobs, want 1", len(jobs))
	}
	r, err := virtual.Render(jobs[0], virtual.Options{Dots: 576})
	if err != nil {
		t.Fatal(err)
	}
	wantIn(t, "printed receipt", r.Text, "VIA CLIENTE", "NSU: "+tx.NSU, "R$ 25,00", "DOC: TESTE")
	if r.Cuts != 1 {
		t.Errorf("printed receipt: %d cuts", r.Cuts)
	}

	p.fake.PaperOut(true)
	out, errOut, code := runTEF(t, "sale", "--amount", "26.00", "--print", "--config", cfg)
	if code != 1 || strings.Contains(out, "approved") {
		t.Errorf("sale --print without paper: exit %d\n%s", code, out)
	}
	wantIn(t, "sale --print without paper", errOut, "is not ready", "printer.paper_out", "no sale was made")
	s.wantStates(t, tefsim.StateConfirmed)

	p.fake.PaperOut(false)
	p.fake.PaperLeft(40) // the roll ends in the middle of the receipt
	out, errOut, code = runTEF(t, "sale", "--amount", "27.00", "--print", "--config", cfg)
	if code != 1 {
		t.Errorf("sale --print, paper ending mid-receipt: exit %d", code)
	}
	wantIn(t, "sale --print, paper ending mid-receipt", out, "Sale approved", "Undone (NCN)")
	wantIn(t, "sale --print, paper ending mid-receipt stderr", errOut, "printing the receipt", "the sale was undone", "R$ 27,00")
	s.wantStates(t, tefsim.StateConfirmed, tefsim.StateUndone)

	noPrinter := tefConfigFile(t, "tef:\n  device: "+dev+"\n")
	_, errOut, code = runTEF(t, "sale", "--amount", "28.00", "--print", "--config", noPrinter)
	if code != 1 || !strings.Contains(errOut, "--print: no printer: set printer.device") {
		t.Errorf("sale --print without a printer: exit %d: %s", code, errOut)
	}
	s.wantStates(t, tefsim.StateConfirmed, tefsim.StateUndone)
}

// TestTEFSimCommand runs `totemd sim tef` on both transports, drives it with `totemd tef`,
// reads its ledger.json and stops it with SIGTERM.
func TestTEFSimCommand(t *testing.T) {
	t.Parallel()
	files := filepath.Join(t.TempDir(), "gp")
	ledgerDir := filepath.Join(t.TempDir(), "ledger")
	cmd := exec.Command(totemdBin, "sim", "tef", "--listen", "127.0.0.1:0", "--files", files, "--dir", ledgerDir,
		"--pinpad-delay", "0", "--status-delay", "0", "--network", "STONE")
	cmd.Env = childEnv(true)
	errOut := &syncBuffer{}
	cmd.Stderr = errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		_, _ = io.Copy(errOut, stdout)
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		checkOutput(t, "totemd sim tef", errOut.String())
		if t.Failed() {
			t.Logf("output of totemd sim tef:\n%s", tail(errOut.String(), 40))
		}
	})
	var line string
	select {
	case line = <-first:
	case <-time.After(startTimeout):
		t.Fatalf("totemd sim tef: no ready line within %s", startTimeout)
	}
	uris := strings.Fields(strings.TrimPrefix(line, tefsim.ReadyPrefix))
	if !strings.HasPrefix(line, tefsim.ReadyPrefix+" ") || len(uris) != 2 || !strings.HasPrefix(uris[0], "tcp://127.0.0.1:") ||
		uris[1] != "file://"+files {
		t.Fatalf("totemd sim tef ready line %q", line)
	}
	for _, dev := range uris {
		if out := mustTEF(t, "status", "--device", dev); out != "TEF OK: "+dev+"\n" {
			t.Errorf("status of %s: %q", dev, out)
		}
	}
	wantIn(t, "sale on the file exchange", mustTEF(t, "sale", "--amount", "5,00", "--device", uris[1]), "STONE NSU", "Confirmed (CNF)")
	mustTEF(t, "sale", "--amount", "6", "--undo", "--device", uris[0])

	b, err := os.ReadFile(filepath.Join(ledgerDir, "ledger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var led struct {
		Transactions []tefsim.Tx `json:"transactions"`
	}
	if err := json.Unmarshal(b, &led); err != nil {
		t.Fatalf("ledger.json: %v\n%s", err, b)
	}
	if len(led.Transactions) != 2 || led.Transactions[0].State != tefsim.StateConfirmed || led.Transactions[0].AmountCents != 500 ||
		led.Transactions[1].State != tefsim.StateUndone || led.Transactions[0].Network != "STONE" {
		t.Errorf("ledger.json:\n%s", b)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("totemd sim tef did not stop within %s of SIGTERM", waitTimeout)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("totemd sim tef after SIGTERM: %v", cmd.ProcessState)
	}
	wantIn(t, "totemd sim tef log", errOut.String(), "tefsim: closed")

	_, stderr, code := runCLI(t, "sim", "tef", "--bogus")
	if code == 0 || !strings.Contains(stderr, "flag provided but not defined: -bogus") || !strings.Contains(stderr, "usage: totemd sim tef") {
		t.Errorf("sim tef --bogus: exit %d: %s", code, stderr)
	}
	_, stderr, code = runCLI(t, "sim", "tef", "--listen", "")
	if code == 0 || !strings.Contains(stderr, "nothing to serve") {
		t.Errorf("sim tef without a transport: exit %d: %s", code, stderr)
	}
}
