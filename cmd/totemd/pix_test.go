package main

// Pix through the real binary: the demo daemon's in-process PSP simulator, a standalone
// simulator process (`totemd sim pix`) reached by a daemon from its config, kill -9 between
// PUT /cob and its answer, and the `totemd pix` CLI. Waits are on the WebSocket, or
// deadline-bounded polls of the REST API and of the simulator's ledger.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
	"github.com/totemd/totemd/ui/client"
)

// ---- the simulator's control API (same mTLS as the PSP API) ----

type simCtl struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newSimCtl(t *testing.T, base, caFile, certFile, keyFile string) *simCtl {
	t.Helper()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &simCtl{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: waitTimeout}}
}

func (c *simCtl) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (c *simCtl) ledger() pixsim.Ledger {
	c.t.Helper()
	code, b := c.do("GET", "/_sim/ledger", nil)
	var l pixsim.Ledger
	if code != http.StatusOK || json.Unmarshal(b, &l) != nil {
		c.t.Fatalf("GET /_sim/ledger = %d %s", code, b)
	}
	return l
}

func (c *simCtl) charges(txid string) []pixsim.Charge {
	var out []pixsim.Charge
	for _, ch := range c.ledger().Charges {
		if ch.TxID == txid {
			out = append(out, ch)
		}
	}
	return out
}

func (c *simCtl) fault(f map[string]any) {
	c.t.Helper()
	if code, b := c.do("POST", "/_sim/fault", f); code != http.StatusOK {
		c.t.Fatalf("POST /_sim/fault = %d %s", code, b)
	}
}

func (c *simCtl) pay(txid string, cents int64) string {
	c.t.Helper()
	code, b := c.do("POST", "/_sim/pay", map[string]any{"txid": txid, "amount_cents": cents})
	var out struct {
		E2EID string `json:"e2eid"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &out) != nil || out.E2EID == "" {
		c.t.Fatalf("POST /_sim/pay %s = %d %s", txid, code, b)
	}
	return out.E2EID
}

// waitLedger polls the simulator's ledger until cond holds, failing after waitTimeout.
func (c *simCtl) waitLedger(what string, cond func(pixsim.Ledger) bool) pixsim.Ledger {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		l := c.ledger()
		if cond(l) {
			return l
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the PSP ledger did not show %s within %s: %+v", what, waitTimeout, l)
		}
		time.Sleep(pollEvery) // polling interval of a deadline-bounded poll
	}
}

// ---- a standalone simulator process ----

type simProc struct {
	cmd   *exec.Cmd
	out   *syncBuffer
	done  chan struct{}
	ready pixsim.Ready
	ctl   *simCtl
}

// startSimProc runs `totemd sim pix --listen 127.0.0.1:0 --dir dir` and reads its ready line.
func startSimProc(t *testing.T, dir string, args ...string) *simProc {
	t.Helper()
	args = append([]string{"sim", "pix", "--listen", "127.0.0.1:0", "--dir", dir}, args...)
	p := &simProc{cmd: exec.Command(totemdBin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = childEnv(true)
	p.cmd.Stderr = p.out
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting totemd sim pix: %v", err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		_, _ = io.Copy(p.out, stdout)
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(waitTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		checkOutput(t, "totemd sim pix", p.out.String())
		if t.Failed() {
			t.Logf("output of totemd sim pix:\n%s", tail(p.out.String(), 40))
		}
	})
	select {
	case line, ok := <-first:
		if !ok || json.Unmarshal([]byte(line), &p.ready) != nil || !strings.HasPrefix(p.ready.BaseURL, "https://127.0.0.1:") {
			t.Fatalf("totemd sim pix ready line %q:\n%s", line, p.out.String())
		}
	case <-time.After(startTimeout):
		t.Fatalf("totemd sim pix printed no ready line within %s:\n%s", startTimeout, p.out.String())
	}
	p.ctl = newSimCtl(t, p.ready.BaseURL, p.ready.CA, p.ready.Cert, p.ready.Key)
	return p
}

// pspConf is the pix section of a test config.
type pspConf struct {
	BaseURL, ClientID, SecretFile, Cert, Key, CA, PixKey string
}

func (p *simProc) conf(t *testing.T, secret string) pspConf {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pix-secret")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := p.ready
	return pspConf{BaseURL: r.BaseURL, ClientID: r.ClientID, SecretFile: f, Cert: r.Cert, Key: r.Key, CA: r.CA, PixKey: r.PixKey}
}

// writeConfig writes a daemon config for stateDir whose PSP is psp.
func writeConfig(t *testing.T, stateDir string, psp pspConf) string {
	t.Helper()
	cfg := fmt.Sprintf(`kiosk:
  id: totem-pix-test
state_dir: %q
payment:
  pix_poll: 200ms
  session_timeout: 10m
pix:
  profile: bcb
  base_url: %q
  client_id: %q
  client_secret_file: %q
  cert: %q
  key: %q
  ca: %q
  pix_key: %q
  merchant_name: CLINICA TESTE
  merchant_city: SAO PAULO
  timeout: 15s
`, stateDir, psp.BaseURL, psp.ClientID, psp.SecretFile, psp.Cert, psp.Key, psp.CA, psp.PixKey)
	path := filepath.Join(t.TempDir(), "totemd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var demoPSPRe = regexp.MustCompile(`psp=(https://127\.0\.0\.1:\d+)`)

// demoPSP is the in-process simulator of a `run --demo` daemon without a pix section: its URL
// (from the daemon's log) and its files (in <state>/pixsim).
func demoPSP(t *testing.T, d *proc) pspConf {
	t.Helper()
	m := demoPSPRe.FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("no psp= URL in the demo daemon's log:\n%s", d.out.String())
	}
	dir := filepath.Join(d.dir, "pixsim")
	return pspConf{BaseURL: m[1], ClientID: demoClientID, SecretFile: filepath.Join(dir, "client_secret"),
		Cert: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client.key"), CA: filepath.Join(dir, "ca.pem"), PixKey: demoPixKey}
}

func decodePNGDataURL(t *testing.T, u string) []byte {
	t.Helper()
	b64, ok := strings.CutPrefix(u, "data:image/png;base64,")
	if !ok {
		t.Fatalf("not a PNG data URL: %.40q", u)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("PNG: %v", err)
	}
	return raw
}

func sinceArg() string { return time.Now().Add(-time.Hour).Format("2006-01-02") }

// untilArg is a minute from now: the default (now) is sent to the PSP cut to the second, which
// drops a payment made in the same second (see pix_bugs_test.go).
func untilArg() string { return time.Now().Add(time.Minute).UTC().Format(time.RFC3339) }

// ---- 10. demo daemon: QR over the WebSocket, simulated payment, REST, reconcile ----

func TestPixDemoDaemon(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	d := startDemo(t, dir)
	ws := dialWS(t, d)
	ws.hello(0)
	s := okSession(t, ws.cmd(map[string]any{"type": "session.create", "items": consulta}))
	okSession(t, ws.cmd(map[string]any{"type": "session.pay", "session_id": s.ID, "method": "pix"}))
	activeMsg, active := ws.waitEvent("attempt active", func(m client.Message, x *payment.Session) bool {
		return x != nil && x.ID == s.ID && x.Current() != nil && x.Current().State == payment.AttemptActive
	})
	var qrMsg *client.Message
	for i := range ws.events {
		if m := ws.events[i]; m.Event == payment.EventPixQR && m.Session == s.ID {
			qrMsg = &ws.events[i]
		}
	}
	if qrMsg == nil || qrMsg.Seq > activeMsg.Seq {
		t.Fatalf("no %s event for the session before the attempt became active (seq %d)", payment.EventPixQR, activeMsg.Seq)
	}
	var qr payment.PixQR
	if err := json.Unmarshal(qrMsg.Payload, &qr); err != nil {
		t.Fatal(err)
	}
	a := active.Current()
	txid := payment.PixTxID(s.ID, 1)
	if qr.TxID != txid || qr.BRCode == "" || qr.BRCode != a.Pix.BRCode || qr.ExpiresAt.IsZero() || !qr.ExpiresAt.Equal(a.Pix.ExpiresAt) {
		t.Fatalf("pix.qr %+v, attempt %+v", qr, a.Pix)
	}
	raw := decodePNGDataURL(t, qr.PNG)
	if want, _ := pix.QRPNG(qr.BRCode, 512); !bytes.Equal(raw, want) {
		t.Errorf("the PNG is not the QR of the BR Code")
	}
	if dc := pix.Decode(qr.BRCode); !dc.Valid || dc.Kind != "dynamic" || dc.AmountCents != 15000 || dc.URL != a.Pix.Location {
		t.Errorf("BR Code: %+v", dc)
	}
	// What the UI fetches when it missed the event.
	code, body := d.request("GET", "/api/v1/sessions/"+s.ID+"/pix", "", d.bearer())
	var again payment.PixQR
	if code != http.StatusOK || json.Unmarshal(body, &again) != nil || again.BRCode != qr.BRCode || again.PNG != qr.PNG || again.TxID != txid {
		t.Errorf("GET /api/v1/sessions/{id}/pix = %d %.200s", code, body)
	}

	// The simulated customer pays.
	if code, body := d.request("POST", "/api/v1/demo/pix/"+txid+"/pay", "", d.bearer()); code != http.StatusOK {
		t.Fatalf("POST /api/v1/demo/pix/%s/pay = %d %s", txid, code, body)
	}
	ws.waitEvent("fulfilled", func(m client.Message, x *payment.Session) bool {
		return x != nil && x.ID == s.ID && x.State == payment.StateFulfilled
	})

	// The session over REST, as raw JSON: the attempt's txid, brcode and expires_at.
	code, body = d.request("GET", "/api/v1/sessions/"+s.ID, "", d.bearer())
	var rest struct {
		State    string `json:"state"`
		Attempts []struct {
			State string         `json:"state"`
			Pix   map[string]any `json:"pix"`
		} `json:"attempts"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &rest) != nil || len(rest.Attempts) != 1 {
		t.Fatalf("GET session = %d %s", code, body)
	}
	p := rest.Attempts[0].Pix
	if rest.State != "fulfilled" || p["txid"] != txid || p["brcode"] != qr.BRCode || p["expires_at"] != qr.ExpiresAt.Format(time.RFC3339Nano) || p["e2eid"] == nil {
		t.Errorf("session JSON: state %s pix %v", rest.State, p)
	}

	// A wrong amount paid on a second session is refunded by the daemon.
	psp := demoPSP(t, d)
	ctl := newSimCtl(t, psp.BaseURL, psp.CA, psp.Cert, psp.Key)
	s2, err := d.c.CreateSession(ctxT(t), consulta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.c.Pay(ctxT(t), s2.ID, payment.PayRequest{Method: payment.MethodPix}); err != nil {
		t.Fatal(err)
	}
	waitSession(t, d.c, s2.ID, "pix active", func(x *payment.Session) bool { return x.Current().State == payment.AttemptActive })
	ctl.pay(payment.PixTxID(s2.ID, 1), 15000-1)
	waitSession(t, d.c, s2.ID, "refunded", func(x *payment.Session) bool { return x.Current().Pix.Refunded })

	// `totemd pix reconcile` against the demo's in-process PSP and the running daemon.
	cfg := writeConfig(t, dir, psp)
	out, errOut, rc := runCLI(t, "pix", "reconcile", "--since", sinceArg(), "--until", untilArg(), "--config", cfg, "--state-dir", dir)
	if rc != 0 || !strings.Contains(out, "Pix recebidos no PSP") || !strings.Contains(out, ": 2\n") || !strings.Contains(out, "Nenhuma divergência.") {
		t.Errorf("pix reconcile = %d:\n%s%s", rc, out, errOut)
	}
	out, errOut, rc = runCLI(t, "pix", "reconcile", "--since", sinceArg(), "--until", untilArg(), "--config", cfg, "--state-dir", dir, "--json")
	var rep struct {
		PSPPix     int        `json:"psp_pix"`
		Mismatches []mismatch `json:"mismatches"`
	}
	if rc != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.PSPPix != 2 || len(rep.Mismatches) != 0 {
		t.Errorf("pix reconcile --json = %d:\n%s%s", rc, out, errOut)
	}

	// A payment at the PSP that no session of this kiosk asked for is reported.
	pc, err := pix.New(pix.Config{Profile: "bcb", BaseURL: psp.BaseURL, ClientID: psp.ClientID, ClientSecretFile: psp.SecretFile,
		Cert: psp.Cert, Key: psp.Key, CA: psp.CA, PixKey: psp.PixKey, MerchantName: "X", MerchantCity: "Y", Timeout: 15 * time.Second}, pix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	foreign := "FOREIGNCHARGE0000000000000001"
	if _, err := pc.PutCob(ctxT(t), foreign, pix.CobRequest{Calendario: pix.Calendario{Expiracao: 300}, Valor: pix.Valor{Original: "7.00"}, Chave: psp.PixKey}); err != nil {
		t.Fatal(err)
	}
	e2e := ctl.pay(foreign, 700)
	out, errOut, rc = runCLI(t, "pix", "reconcile", "--since", sinceArg(), "--until", untilArg(), "--config", cfg, "--state-dir", dir)
	if rc != 1 || !strings.Contains(out, "DIVERGÊNCIA unknown_payment") || !strings.Contains(out, e2e) || strings.Count(out, "DIVERGÊNCIA") != 1 {
		t.Errorf("pix reconcile with a foreign payment = %d:\n%s%s", rc, out, errOut)
	}
}

// ---- 11. kill -9 between PUT /cob and its answer, against a PSP in another process ----

func TestPixKill9BetweenPutCobAndAnswer(t *testing.T) {
	t.Parallel()
	sim := startSimProc(t, filepath.Join(t.TempDir(), "psp"))
	dir := filepath.Join(t.TempDir(), "state")
	psp := sim.conf(t, pixsim.DefaultClientSecret)
	cfg := writeConfig(t, dir, psp)
	// --demo simulates the printer and the TEF; the config's pix section is the PSP.
	d := startDaemon(t, dir, "--demo", "--config", cfg)
	if !strings.Contains(d.out.String(), "psp="+psp.BaseURL) || !strings.Contains(d.out.String(), "psp_simulated=false") {
		t.Fatalf("the daemon does not use the configured PSP %s:\n%s", psp.BaseURL, d.out.String())
	}
	s, err := d.c.CreateSession(ctxT(t), consulta)
	if err != nil {
		t.Fatal(err)
	}
	txid := payment.PixTxID(s.ID, 1)
	// The PSP creates the charge, then holds the answer.
	sim.ctl.fault(map[string]any{"path": "/cob/" + txid, "method": "PUT", "after_handling": true, "delay": "60s"})
	if _, err := d.c.Pay(ctxT(t), s.ID, payment.PayRequest{Method: payment.MethodPix}); err != nil {
		t.Fatal(err)
	}
	sim.ctl.waitLedger("the charge", func(l pixsim.Ledger) bool { return len(l.Charges) == 1 })
	if cur, err := d.c.Session(ctxT(t), s.ID); err != nil || cur.Current().State != payment.AttemptCreating {
		t.Fatalf("before the kill: %+v %v", cur, err)
	}
	d.kill()

	d2 := startDaemon(t, dir, "--demo", "--config", cfg)
	act := waitSession(t, d2.c, s.ID, "pix active after the restart", func(x *payment.Session) bool {
		return x.Current().State == payment.AttemptActive
	})
	chs := sim.ctl.charges(txid)
	if l := sim.ctl.ledger(); len(l.Charges) != 1 || len(chs) != 1 || chs[0].Puts != 2 || chs[0].Location != act.Current().Pix.Location {
		t.Fatalf("after kill -9 and restart: PSP ledger %+v, attempt %+v", l.Charges, act.Current().Pix)
	}
	// The demo's pay button only drives an in-process PSP.
	if code, body := d2.request("POST", "/api/v1/demo/pix/"+txid+"/pay", "", d2.bearer()); code != http.StatusNotFound || !strings.Contains(string(body), "pix.not_simulated") {
		t.Errorf("demo pay with an external PSP = %d %s", code, body)
	}
	sim.ctl.pay(txid, 15000)
	waitSession(t, d2.c, s.ID, "fulfilled", func(x *payment.Session) bool { return x.State == payment.StateFulfilled })
	if l := sim.ctl.ledger(); len(l.Charges) != 1 || l.Charges[0].Status != "CONCLUIDA" || len(l.Refunds) != 0 {
		t.Errorf("PSP ledger at the end: %+v", l)
	}
	// Reconcile the standalone PSP with the daemon's journal.
	out, errOut, rc := runCLI(t, "pix", "reconcile", "--since", sinceArg(), "--until", untilArg(), "--config", cfg, "--state-dir", dir)
	if rc != 0 || !strings.Contains(out, "Nenhuma divergência.") {
		t.Errorf("pix reconcile = %d:\n%s%s", rc, out, errOut)
	}
}

// ---- 12. the pix CLI ----

func TestPixCLI(t *testing.T) {
	t.Parallel()
	const key = "123e4567-e89b-12d3-a456-426614174000"
	pngFile := filepath.Join(t.TempDir(), "qr.png")
	out, errOut, rc := runCLI(t, "pix", "brcode", "--key", key, "--name", "Açaí Ltda", "--city", "São Paulo",
		"--amount", "12.34", "--txid", "ABC123", "--png", pngFile)
	code := strings.TrimSpace(out)
	if rc != 0 || code == "" || strings.Contains(code, "\n") {
		t.Fatalf("pix brcode = %d %q %s", rc, out, errOut)
	}
	out, errOut, rc = runCLI(t, "pix", "decode", "--json", code)
	var d pix.Decoded
	if rc != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("pix decode --json = %d %s %s", rc, out, errOut)
	}
	if !d.Valid || d.Kind != "static" || d.Key != key || d.Amount != "12.34" || d.AmountCents != 1234 ||
		d.MerchantName != "ACAI LTDA" || d.MerchantCity != "SAO PAULO" || d.TxID != "ABC123" || d.CRC != code[len(code)-4:] {
		t.Errorf("decoded: %s", out)
	}
	raw, err := os.ReadFile(pngFile)
	if err != nil {
		t.Fatalf("the PNG: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("the PNG: %v", err)
	}
	if want, _ := pix.QRPNG(code, 512); !bytes.Equal(raw, want) {
		t.Errorf("the PNG is not the QR of the printed code")
	}

	// A code broken in the middle (amount changed, CRC not): exit 1, valid false, the reason.
	broken := strings.Replace(code, "12.34", "12.35", 1)
	out, _, rc = runCLI(t, "pix", "decode", "--json", broken)
	var bd pix.Decoded
	if rc == 0 || json.Unmarshal([]byte(out), &bd) != nil || bd.Valid || bd.Error == "" || bd.Rule == "" {
		t.Errorf("pix decode --json of a broken code = %d %s", rc, out)
	}
	if out, _, rc = runCLI(t, "pix", "decode", broken); rc == 0 || !strings.Contains(out, "NÃO:") {
		t.Errorf("pix decode of a broken code = %d %s", rc, out)
	}

	// pix check against a standalone simulator: right and wrong secret.
	sim := startSimProc(t, filepath.Join(t.TempDir(), "psp"))
	state := filepath.Join(t.TempDir(), "state")
	good := writeConfig(t, state, sim.conf(t, pixsim.DefaultClientSecret))
	out, errOut, rc = runCLI(t, "pix", "check", "--config", good)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if rc != 0 || len(lines) != 3 {
		t.Fatalf("pix check = %d:\n%s%s", rc, out, errOut)
	}
	for i, want := range []string{"Certificado do cliente", "Conexão mTLS e token OAuth2 em " + sim.ready.BaseURL, "Consulta de Pix recebidos (GET /pix)"} {
		if !strings.HasPrefix(lines[i], "OK ") || !strings.Contains(lines[i], want) {
			t.Errorf("pix check line %d: %q, want OK ... %s", i+1, lines[i], want)
		}
	}
	bad := writeConfig(t, state, sim.conf(t, "not-the-secret"))
	out, errOut, rc = runCLI(t, "pix", "check", "--config", bad)
	if rc == 0 || !strings.Contains(out, "FALHA Conexão mTLS e token OAuth2") || !strings.Contains(out, "401") {
		t.Errorf("pix check with a wrong secret = %d:\n%s%s", rc, out, errOut)
	}
}
