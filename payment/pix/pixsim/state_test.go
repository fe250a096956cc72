package pixsim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	o := Options{Dir: dir, Now: c.Now, Logger: quiet()}
	s1, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sim: s1, clock: c, hc: clientFor(t, s1.Certs(), nil)}
	first := e.mustCreate(txid(1), 10000)
	e.call("PUT", "/cob/"+txid(1), cobBody(10000)) // Puts 2
	e2e := e.mustPay(txid(1), 10000)
	if r := e.call("PUT", "/pix/"+e2e+"/devolucao/R1", map[string]any{"valor": "25.00"}); r.status != 201 {
		t.Fatal(r)
	}
	e.mustCreate(txid(2), 200)
	e.mustCreate(txid(3), 300)
	e.call("PATCH", "/cob/"+txid(3), map[string]any{"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})
	e.call("PUT", "/webhook/"+DefaultPixKey, map[string]any{"webhookUrl": "https://cloud.example.com/pix"})
	oldTok := e.tok
	certs1, charges1, refunds1 := s1.Certs(), s1.Charges(), s1.Refunds()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	var onDisk map[string]any
	if data, err := os.ReadFile(filepath.Join(dir, "ledger.json")); err != nil || json.Unmarshal(data, &onDisk) != nil {
		t.Fatalf("ledger.json: %v", err)
	}
	for _, f := range []string{"ca.pem", "client.pem", "client.key", "server.pem", "server.key", "ca.key"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	s2, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	certs2 := s2.Certs()
	if !bytes.Equal(certs1.CAPEM, certs2.CAPEM) || !bytes.Equal(certs1.ClientCertPEM, certs2.ClientCertPEM) ||
		!bytes.Equal(certs1.ClientKeyPEM, certs2.ClientKeyPEM) || !bytes.Equal(certs1.ServerCertPEM, certs2.ServerCertPEM) ||
		certs2.Dir != dir {
		t.Fatal("the certificates changed across a restart")
	}
	if !reflect.DeepEqual(s2.Charges(), charges1) {
		t.Fatalf("charges after restart:\n%+v\nwant\n%+v", s2.Charges(), charges1)
	}
	if !reflect.DeepEqual(s2.Refunds(), refunds1) {
		t.Fatalf("refunds after restart: %+v, want %+v", s2.Refunds(), refunds1)
	}
	// The client made with the first run's certificates talks to the second run.
	e2 := &env{t: t, sim: s2, clock: c, hc: clientFor(t, certs1, nil)}
	r, err := e2.raw("GET", "/cob/"+txid(1), nil, map[string]string{"Authorization": "Bearer " + oldTok})
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, r, 401, "", "") // tokens do not survive a restart
	m := e2.call("GET", "/cob/"+txid(1), nil).obj(t)
	if m["status"] != "CONCLUIDA" || get(m, "pix", 0, "endToEndId") != e2e || get(m, "pix", 0, "devolucoes", 0, "id") != "R1" ||
		m["pixCopiaECola"] != first["pixCopiaECola"] {
		t.Fatalf("paid charge after restart: %v", m)
	}
	if r := e2.call("GET", "/webhook/"+DefaultPixKey, nil); r.status != 200 {
		t.Fatalf("webhook after restart: %v", r)
	}
	if _, err := s2.Pay(txid(2), 200); err != nil {
		t.Fatalf("paying a charge made before the restart: %v", err)
	}
	if _, err := s2.Pay(txid(3), 300); err == nil {
		t.Fatal("a removed charge became payable after the restart")
	}
	if r := e2.call("PUT", "/cob/"+txid(1), cobBody(10000)); r.status != 201 || len(s2.Charges()) != 3 {
		t.Fatalf("PUT of an old txid after restart: %v", r)
	}
	if got := get(e2.mustCreate(txid(4), 400), "loc", "id"); got != float64(4) {
		t.Fatalf("loc id after restart %v, want 4", got)
	}
	if r := e2.call("PUT", "/pix/"+e2e+"/devolucao/R2", map[string]any{"valor": "75.01"}); r.status != 400 {
		t.Fatalf("over-refund after restart: %v", r)
	}
}

func TestCertificateRenewal(t *testing.T) {
	dir := t.TempDir()
	start := func() Certs {
		t.Helper()
		s, err := Start(Options{Dir: dir, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.Certs()
	}
	orig := start()

	// A missing client key: a new client certificate from the same CA.
	os.Remove(filepath.Join(dir, "client.key"))
	c := start()
	if !bytes.Equal(c.CAPEM, orig.CAPEM) || bytes.Equal(c.ClientCertPEM, orig.ClientCertPEM) ||
		!bytes.Equal(c.ServerCertPEM, orig.ServerCertPEM) {
		t.Fatal("client renewal")
	}

	// An expired server certificate: a new one from the same CA.
	ca, caKey, err := loadPair(dir, "ca.pem", "ca.key", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, oldKey, oldPEM, err := newLeaf(ca, caKey, "localhost", []string{"localhost"}, nil, x509.ExtKeyUsageServerAuth, time.Now().Add(-400*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "server.pem"), oldPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "server.key"), keyPEM(oldKey), 0o600)
	s := start()
	if !bytes.Equal(s.CAPEM, orig.CAPEM) || bytes.Equal(s.ServerCertPEM, oldPEM) || !bytes.Equal(s.ClientCertPEM, c.ClientCertPEM) {
		t.Fatal("server renewal")
	}
	b, _ := pem.Decode(s.ServerCertPEM)
	if leaf, _ := x509.ParseCertificate(b.Bytes); leaf == nil || time.Now().After(leaf.NotAfter) {
		t.Fatal("renewed server certificate is not valid")
	}

	// A broken CA: everything new.
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("garbage"), 0o600)
	n := start()
	if bytes.Equal(n.CAPEM, orig.CAPEM) || bytes.Equal(n.ClientCertPEM, c.ClientCertPEM) || bytes.Equal(n.ServerCertPEM, s.ServerCertPEM) {
		t.Fatal("CA renewal")
	}

	// A ledger that is not one stops Start rather than being overwritten.
	os.WriteFile(filepath.Join(dir, "ledger.json"), []byte("{"), 0o600)
	if s, err := Start(Options{Dir: dir, Logger: quiet()}); err == nil {
		s.Close()
		t.Fatal("Start accepted a corrupt ledger")
	}
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t)
	ctl := func(method, path string, body any) resp {
		t.Helper()
		r, err := e.raw(method, path, body, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		return r
	}
	e.mustCreate(txid(1), 1500)
	e.mustCreate(txid(2), 800)

	r := ctl("POST", "/_sim/pay", map[string]any{"txid": txid(1), "amount_cents": 1499})
	e2e, _ := r.obj(t)["e2eid"].(string)
	if r.status != 200 || !e2eFormat.MatchString(e2e) {
		t.Fatalf("pay: %v", r)
	}
	if m := e.call("GET", "/cob/"+txid(1), nil).obj(t); get(m, "pix", 0, "valor") != "14.99" {
		t.Fatalf("after /_sim/pay: %v", m)
	}
	if r := ctl("POST", "/_sim/pay", map[string]any{"txid": txid(2)}); r.status != 200 { // the charge's amount
		t.Fatalf("pay without amount: %v", r)
	}
	if c, _ := e.sim.Charge(txid(2)); c.Payments[0].AmountCents != 800 {
		t.Fatalf("default amount: %+v", c)
	}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/_sim/pay", map[string]any{"txid": txid(1), "amount_cents": 1}, 409},
		{"POST", "/_sim/pay", map[string]any{"txid": txid(9), "amount_cents": 1}, 404},
		{"POST", "/_sim/pay", "{", 400},
		{"GET", "/_sim/pay", nil, 405},
		{"POST", "/_sim/fault", map[string]any{"delay": "soon"}, 400},
		{"POST", "/_sim/nothing", nil, 404},
	} {
		if r := ctl(tc.method, tc.path, tc.body); r.status != tc.status || r.obj(t)["error"] == nil {
			t.Errorf("%s %s %v: %v, want %d", tc.method, tc.path, tc.body, r, tc.status)
		}
	}

	if r := ctl("POST", "/_sim/fault", map[string]any{"path": "/cob", "method": "GET", "status": 503, "retry_after": 3, "delay": "100ms", "times": 1}); r.status != 200 {
		t.Fatalf("fault: %v", r)
	}
	start := time.Now()
	r = e.call("GET", "/cob/"+txid(1), nil)
	if r.status != 503 || r.header.Get("Retry-After") != "3" || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("after /_sim/fault: %v %v", r, r.header)
	}
	if r := e.call("GET", "/cob/"+txid(1), nil); r.status != 200 {
		t.Fatalf("the fault hit twice: %v", r)
	}

	if r := ctl("POST", "/_sim/expire-tokens", nil); r.status != 200 {
		t.Fatalf("expire-tokens: %v", r)
	}
	wantProblem(t, must(e.raw("GET", "/cob/"+txid(1), nil, map[string]string{"Authorization": "Bearer " + e.tok})), 401, "", "")
	e.tok = ""

	e.call("PUT", "/pix/"+e2e+"/devolucao/R1", map[string]any{"valor": "1.00"})
	r = ctl("GET", "/_sim/ledger", nil)
	var l Ledger
	if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 {
		t.Fatalf("ledger: %v %v", r, err)
	}
	if !reflect.DeepEqual(l.Charges, e.sim.Charges()) || !reflect.DeepEqual(l.Refunds, e.sim.Refunds()) || len(l.Refunds) != 1 {
		t.Fatalf("ledger %+v", l)
	}
	if l.Refunds[0].Status != "EM_PROCESSAMENTO" {
		t.Errorf("reading the ledger moved the refund on: %+v", l.Refunds[0])
	}
	// The control API needs no token, but it does need the client certificate (TestMTLS).
}

func must(r resp, err error) resp {
	if err != nil {
		panic(err)
	}
	return r
}

func TestMainRunner(t *testing.T) {
	for _, withDir := range []bool{true, false} {
		name := "temporary dir"
		if withDir {
			name = "--dir"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--listen", "127.0.0.1:0", "--dialect", "efi"}
			dir := filepath.Join(t.TempDir(), "sim")
			if withDir {
				args = append(args, "--dir", dir)
			}
			pr, pw := io.Pipe()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, args, pw, io.Discard)
				pw.Close()
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatalf("no ready line: %v (%v)", err, <-done)
			}
			go io.Copy(io.Discard, pr)
			var ready Ready
			if err := json.Unmarshal([]byte(line), &ready); err != nil || !strings.HasPrefix(ready.BaseURL, "https://127.0.0.1:") ||
				ready.Dialect != "efi" || ready.ClientID != DefaultClientID || ready.PixKey != DefaultPixKey {
				t.Fatalf("ready line %q: %v", line, err)
			}
			if withDir && ready.Dir != dir {
				t.Errorf("dir %q, want %q", ready.Dir, dir)
			}
			read := func(p string) []byte {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			certs := Certs{CAPEM: read(ready.CA), ClientCertPEM: read(ready.Cert), ClientKeyPEM: read(ready.Key)}
			hc := clientFor(t, certs, nil)
			res, err := hc.Get(ready.BaseURL + "/_sim/ledger")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("ledger: %d", res.StatusCode)
			}
			hc.CloseIdleConnections()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not stop")
			}
			if _, err := os.Stat(ready.Dir); withDir == os.IsNotExist(err) {
				t.Errorf("state dir after exit: %v (kept: %v)", err, withDir)
			}
		})
	}
	if err := run(context.Background(), []string{"--bogus"}, io.Discard, io.Discard); err == nil {
		t.Error("an unknown flag was accepted")
	}
	if err := run(context.Background(), []string{"--dialect", "xml"}, io.Discard, io.Discard); err == nil {
		t.Error("an unknown dialect was accepted")
	}
}
