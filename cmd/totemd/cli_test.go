package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/totemd/totemd/payment"
)

// TestCLISessions runs `totemd sessions ls|show` against the running daemon, then against its
// journal once it is stopped (SIGINT), and expects the same answers.
func TestCLISessions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	d := startDemo(t, dir)
	open, err := d.c.CreateSession(ctxT(t), consulta)
	if err != nil {
		t.Fatal(err)
	}
	paid, err := d.c.CreateSession(ctxT(t), consulta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.c.Pay(ctxT(t), paid.ID, payment.PayRequest{Method: payment.MethodPix}); err != nil {
		t.Fatal(err)
	}
	a := waitSession(t, d.c, paid.ID, "with an active charge", func(s *payment.Session) bool {
		return s.Current().State == payment.AttemptActive
	}).Current()
	if err := d.c.DemoPixPay(ctxT(t), a.Pix.TxID); err != nil {
		t.Fatal(err)
	}
	done := waitSession(t, d.c, paid.ID, "fulfilled", func(s *payment.Session) bool { return s.State == payment.StateFulfilled })

	cli := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("totemd %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	type views struct{ lsText, lsJSON, showText, showJSON, lsFiltered string }
	// Once stopped, the daemon's api.addr is gone and the CLI would try the config's listen
	// address (by default 127.0.0.1:8787, where another totemd may run on a shared machine:
	// see TestBugCLIDefaultAddressFallback). A config whose address nobody can listen on keeps
	// the test hermetic.
	cfg := filepath.Join(t.TempDir(), "totemd.yaml")
	if err := os.WriteFile(cfg, []byte("kiosk:\n  id: demo-totem-01\nstate_dir: /nonexistent\napi:\n  listen: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	look := func() views {
		t.Helper()
		return views{
			lsText:     cli("sessions", "ls", "--config", cfg, "--state-dir", dir),
			lsJSON:     cli("sessions", "ls", "--json", "--config", cfg, "--state-dir", dir),
			showText:   cli("sessions", "show", paid.ID, "--config", cfg, "--state-dir", dir),
			showJSON:   cli("sessions", "show", paid.ID, "--json", "--config", cfg, "--state-dir", dir), // flags after the id
			lsFiltered: cli("sessions", "ls", "--state", "open", "--json", "--config", cfg, "--state-dir", dir),
		}
	}
	checkViews := func(when string, v views) {
		t.Helper()
		var list []*payment.Session
		if err := json.Unmarshal([]byte(v.lsJSON), &list); err != nil {
			t.Fatalf("%s: ls --json is not JSON: %v\n%s", when, err, v.lsJSON)
		}
		if len(list) != 2 || list[0].ID != paid.ID || list[1].ID != open.ID {
			t.Errorf("%s: ls --json: want [%s %s] newest first, got %s", when, paid.ID, open.ID, v.lsJSON)
		}
		var filtered []*payment.Session
		if err := json.Unmarshal([]byte(v.lsFiltered), &filtered); err != nil || len(filtered) != 1 || filtered[0].ID != open.ID {
			t.Errorf("%s: ls --state open: %s (%v)", when, v.lsFiltered, err)
		}
		var shown payment.Session
		if err := json.Unmarshal([]byte(v.showJSON), &shown); err != nil {
			t.Fatalf("%s: show --json is not JSON: %v\n%s", when, err, v.showJSON)
		}
		if shown.ID != done.ID || shown.Version != done.Version || shown.State != payment.StateFulfilled || shown.Ticket != done.Ticket ||
			len(shown.Attempts) != 1 || shown.Attempts[0].Pix.E2EID != done.Attempts[0].Pix.E2EID {
			t.Errorf("%s: show --json differs from the API's session:\n%s", when, v.showJSON)
		}
		for _, w := range []string{"ID", "ESTADO", paid.ID, open.ID, "fulfilled", "open", done.Ticket, "R$ 150,00", "pix (concluded)"} {
			if !strings.Contains(v.lsText, w) {
				t.Errorf("%s: sessions ls does not show %q:\n%s", when, w, v.lsText)
			}
		}
		for _, w := range []string{"Sessão   " + paid.ID, "Estado   fulfilled", "Ticket   " + done.Ticket, "txid " + a.Pix.TxID} {
			if !strings.Contains(v.showText, w) {
				t.Errorf("%s: sessions show does not show %q:\n%s", when, w, v.showText)
			}
		}
	}

	running := look()
	checkViews("daemon running", running)
	if plain := cli("sessions", "ls", "--json", "--state-dir", dir); compact(t, []byte(plain)) != compact(t, []byte(running.lsJSON)) {
		t.Errorf("ls with --state-dir only differs:\n%s", plain)
	}
	if strings.Contains(running.lsText, "not running") {
		t.Errorf("ls through the running daemon says it is not running:\n%s", running.lsText)
	}
	_, stderr, code := runCLI(t, "sessions", "show", "01M83K6EQS4VP9BFTK5RXQA2B7", "--state-dir", dir)
	if code == 0 || !strings.Contains(stderr, "session.not_found") {
		t.Errorf("show of an unknown session: exit %d: %s", code, stderr)
	}

	d.signal(syscall.SIGINT, waitTimeout)
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit after SIGINT: %v", d.cmd.ProcessState)
	}

	stopped := look()
	checkViews("daemon stopped", stopped)
	if !strings.HasPrefix(stopped.lsText, "(totemd is not running: read from "+filepath.Join(dir, "journal.db")+")\n") {
		t.Errorf("ls from the journal does not say so:\n%s", stopped.lsText)
	}
	if compact(t, []byte(stopped.lsJSON)) != compact(t, []byte(running.lsJSON)) || stopped.showJSON != running.showJSON {
		t.Errorf("the journal and the daemon disagree:\n%s\n%s", running.lsJSON, stopped.lsJSON)
	}

	_, stderr, code = runCLI(t, "sessions", "show", "01M83K6EQS4VP9BFTK5RXQA2B7", "--config", cfg, "--state-dir", dir)
	if code == 0 || !strings.Contains(stderr, "não existe") {
		t.Errorf("show of an unknown session from the journal: exit %d: %s", code, stderr)
	}
	_, stderr, code = runCLI(t, "sessions", "rm", "--state-dir", dir)
	if code != 2 || !strings.Contains(stderr, "usage") {
		t.Errorf("sessions rm: exit %d: %s", code, stderr)
	}
}

// TestVersion: `totemd version` prints the version and exits 0.
func TestVersion(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runCLI(t, "version")
	if code != 0 || stdout != "totemd dev\n" || stderr != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, _, code = runCLI(t)
	if code != 2 {
		t.Errorf("no arguments: exit %d, want 2 (usage)", code)
	}
	_, stderr, code = runCLI(t, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d: %s", code, stderr)
	}
}
