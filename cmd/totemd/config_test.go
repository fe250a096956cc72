package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// validHead is the start of a config that is valid on its own; cases append to it or edit it.
const validHead = `kiosk:
  id: totem-01
state_dir: /var/lib/totemd
`

// TestConfigErrors runs `totemd config check FILE` and `totemd run --config FILE` on broken
// files: each exits non-zero with one error line naming file:line and the field's path, and run
// touches nothing.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		line       int
		path       string
		want       []string // further substrings of the message
	}{
		{"unknown key", validHead + "api:\n  lisen: 127.0.0.1:8787\n", 5, "api.lisen",
			[]string{`unknown key "lisen"`, `did you mean "listen"?`}},
		{"wrong type", validHead + "payment:\n  session_timeout: abc\n", 5, "payment.session_timeout",
			[]string{`"abc"`, "duration"}},
		{"missing required field", "kiosk:\n  name: Recepção\nstate_dir: /var/lib/totemd\n", 1, "kiosk.id",
			[]string{"required"}},
		{"non-loopback listen", validHead + "api:\n  listen: 0.0.0.0:8787\n", 5, "api.listen",
			[]string{`"0.0.0.0:8787"`, "loopback", "127.0.0.1:8787"}},
		{"out of range", validHead + "payment:\n  methods: [pix]\n  max_attempts: 0\n", 6, "payment.max_attempts",
			[]string{"between 1 and 99"}},
		{"bad list item", validHead + "payment:\n  methods: [pix, boleto]\n", 5, "payment.methods[1]",
			[]string{`"boleto"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			file := filepath.Join(tmp, "totemd.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			where := regexp.MustCompile("^totemd: " + regexp.QuoteMeta(file) + ":" + strconv.Itoa(tc.line) + `(:\d+)?: ` + regexp.QuoteMeta(tc.path) + ": ")
			check := func(args ...string) {
				t.Helper()
				stdout, stderr, code := runCLI(t, args...)
				msg := strings.TrimSpace(stderr)
				if code == 0 {
					t.Fatalf("totemd %s: exit 0 for a broken config\n%s%s", strings.Join(args, " "), stdout, stderr)
				}
				if lines := strings.Split(msg, "\n"); len(lines) != 1 {
					t.Errorf("totemd %s: want one error line, got %d:\n%s", args[0], len(lines), msg)
				}
				if !where.MatchString(msg) {
					t.Errorf("totemd %s: error %q does not start with %q", args[0], msg, where)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("totemd %s: error %q does not say %q", args[0], msg, w)
					}
				}
				if strings.Contains(stdout, ": ok") {
					t.Errorf("totemd %s said ok: %s", args[0], stdout)
				}
			}
			check("config", "check", file)
			state := filepath.Join(tmp, "state")
			check("run", "--config", file, "--state-dir", state)
			if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run with a broken config created the state dir: %v", err)
			}
		})
	}
}

// TestShippedConfigsPass checks that the example and demo configs pass `config check`.
func TestShippedConfigsPass(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"../../configs/totemd.example.yaml", "../../configs/demo.yaml"} {
		stdout, stderr, code := runCLI(t, "config", "check", f)
		if code != 0 || stdout != f+": ok\n" || stderr != "" {
			t.Errorf("config check %s: exit %d\nstdout: %s\nstderr: %s", f, code, stdout, stderr)
		}
	}
}

// TestRunRefusesWithoutConfig: no --config and no --demo is refused with what to do instead;
// a --listen override beyond loopback is refused too.
func TestRunRefusesWithoutConfig(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	_, stderr, code := runCLI(t, "run", "--state-dir", state)
	if code == 0 {
		t.Fatalf("run without a config started")
	}
	for _, w := range []string{"--config", "--demo", "totemd.example.yaml"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("run without a config: %q does not mention %s", stderr, w)
		}
	}
	if n := len(strings.Split(strings.TrimSpace(stderr), "\n")); n != 1 {
		t.Errorf("want one line, got %d: %s", n, stderr)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run created the state dir: %v", err)
	}

	_, stderr, code = runCLI(t, "run", "--demo", "--state-dir", state, "--listen", "0.0.0.0:0")
	if code == 0 || !strings.Contains(stderr, "api.listen") || !strings.Contains(stderr, "loopback") {
		t.Errorf("run --listen 0.0.0.0:0: exit %d: %s", code, stderr)
	}

	_, stderr, code = runCLI(t, "config", "check")
	if code != 2 || !strings.Contains(stderr, "usage") {
		t.Errorf("config check without a file: exit %d: %s", code, stderr)
	}
	_, stderr, code = runCLI(t, "config", "check", filepath.Join(state, "missing.yaml"))
	if code == 0 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("config check of a missing file: exit %d: %s", code, stderr)
	}
}

// TestRunWithConfigFile starts the daemon from the example config (not demo): it runs, but takes
// no payment without a printer; the same state dir then refuses another kiosk id.
func TestRunWithConfigFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	d := startDaemon(t, dir, "--config", "../../configs/totemd.example.yaml")
	code, body := d.request("GET", "/healthz", "", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"critical_conditions":1`) {
		t.Errorf("healthz without a printer: %d %s", code, body)
	}
	s, err := d.c.CreateSession(ctxT(t), consulta)
	if err != nil {
		t.Fatal(err)
	}
	hdr := d.bearer()
	hdr["Content-Type"] = "application/json"
	code, body = d.request("POST", "/api/v1/sessions/"+s.ID+"/pay", `{"method":"pix"}`, hdr)
	if code != http.StatusServiceUnavailable {
		t.Errorf("pay without Pix and printer: %d %s", code, body)
	}
	code, body = d.request("POST", "/api/v1/demo/pix/X/pay", `{}`, hdr)
	if code != http.StatusNotFound {
		t.Errorf("demo control outside demo mode: %d %s", code, body)
	}
	d.stop()

	_, stderr, code2 := runCLI(t, "run", "--demo", "--state-dir", dir, "--listen", "127.0.0.1:0")
	if code2 == 0 || !strings.Contains(stderr, "another kiosk") || !strings.Contains(stderr, "totem-01") {
		t.Errorf("demo kiosk on the example kiosk's journal: exit %d: %s", code2, stderr)
	}
}
