package pix_test

// Tests of the Pix API client against the real PSP simulator (pixsim), through a recording
// mTLS proxy when the raw requests matter, or against a scripted fake PSP when an answer the
// simulator cannot give is needed. The helpers here are shared by tls_test.go,
// config_test.go, contract_test.go and client_bugs_test.go.
//
// These tests are in package pix_test: pixsim imports pix, so package pix tests cannot.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ---- clock, ids, logs ----

// t0 is where the simulated clocks start.
var t0 = time.Date(2025, 3, 10, 18, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var txSeq atomic.Int64

// newTxID returns a fresh 35-character txid.
func newTxID() string { return fmt.Sprintf("totemdtest%025d", txSeq.Add(1)) }

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ---- certificates ----

// pkiSet is a CA with a server certificate (127.0.0.1, ::1, localhost) and a client
// certificate it signed.
type pkiSet struct {
	name       string
	ca         *x509.Certificate
	caKey      crypto.Signer
	caPEM      []byte
	pool       *x509.CertPool
	server     tls.Certificate
	clientCert *x509.Certificate
	clientKey  crypto.Signer
}

var (
	pkiOnce           sync.Once
	pkiMain, pkiRogue *pkiSet
	pkiErr            error
)

func loadPKIs(t testing.TB) {
	t.Helper()
	pkiOnce.Do(func() {
		if pkiMain, pkiErr = makePKI("totemd-test"); pkiErr == nil {
			pkiRogue, pkiErr = makePKI("rogue")
		}
	})
	if pkiErr != nil {
		t.Fatalf("making test certificates: %v", pkiErr)
	}
}

// testPKI is the PKI of the fake PSPs and the recording proxy.
func testPKI(t testing.TB) *pkiSet { loadPKIs(t); return pkiMain }

// roguePKI is an unrelated PKI (a CA nobody trusts).
func roguePKI(t testing.TB) *pkiSet { loadPKIs(t); return pkiRogue }

var serialSeq atomic.Int64

func makePKI(name string) (*pkiSet, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serialSeq.Add(1)), Subject: pkix.Name{CommonName: name + " CA", Organization: []string{name}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pkiSet{name: name, ca: ca, caKey: caKey, caPEM: pemCert(ca), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srv, err := issueCert(ca, caKey, "localhost", srvKey.Public(), false)
	if err != nil {
		return nil, err
	}
	p.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey, Leaf: srv}
	if p.clientKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if p.clientCert, err = issueCert(ca, caKey, name+"-kiosk", p.clientKey.Public(), true); err != nil {
		return nil, err
	}
	return p, nil
}

// issueCert makes a client (client=true) or 127.0.0.1/localhost server certificate for pub.
func issueCert(ca *x509.Certificate, caKey crypto.Signer, cn string, pub crypto.PublicKey, client bool) (*x509.Certificate, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serialSeq.Add(1)), Subject: pkix.Name{CommonName: cn, Organization: []string{"totemd tests"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pkcs8PEM(t testing.TB, k crypto.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatalf("PKCS#8: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// creds are the files a client config names.
type creds struct{ CA, Cert, Key string }

// files writes the CA, the client certificate and its PKCS#8 key to a fresh directory.
func (p *pkiSet) files(t testing.TB) creds {
	t.Helper()
	dir := t.TempDir()
	return creds{
		CA:   writeFile(t, dir, "ca.pem", p.caPEM),
		Cert: writeFile(t, dir, "client.pem", pemCert(p.clientCert)),
		Key:  writeFile(t, dir, "client.key", pkcs8PEM(t, p.clientKey)),
	}
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// secretFile writes secret (and a newline) to a file and returns its path.
func secretFile(t testing.TB, secret string) string {
	return writeFile(t, t.TempDir(), "client_secret", []byte(secret+"\n"))
}

// ---- the simulator ----

func startSim(t *testing.T, o pixsim.Options) *pixsim.Sim {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quietLog()
	}
	sim, err := pixsim.Start(o)
	if err != nil {
		t.Fatalf("pixsim.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("pixsim Close: %v", err)
		}
	})
	return sim
}

// simCreds names the simulator's CA and client certificate files: the ones in its Dir when it
// has one, otherwise copies written to a temporary directory.
func simCreds(t *testing.T, sim *pixsim.Sim) creds {
	t.Helper()
	c := sim.Certs()
	if c.Dir != "" {
		return creds{CA: filepath.Join(c.Dir, "ca.pem"), Cert: filepath.Join(c.Dir, "client.pem"), Key: filepath.Join(c.Dir, "client.key")}
	}
	dir := t.TempDir()
	return creds{
		CA:   writeFile(t, dir, "ca.pem", c.CAPEM),
		Cert: writeFile(t, dir, "client.pem", c.ClientCertPEM),
		Key:  writeFile(t, dir, "client.key", c.ClientKeyPEM),
	}
}

// simConfig is a client config talking to sim directly, base URL sim.BaseURL()+suffix.
func simConfig(t *testing.T, sim *pixsim.Sim, profile, suffix string) pix.Config {
	t.Helper()
	o := sim.Options()
	cr := simCreds(t, sim)
	return pix.Config{
		Profile: profile, BaseURL: sim.BaseURL() + suffix,
		ClientID: o.ClientID, ClientSecretFile: secretFile(t, o.ClientSecret),
		Cert: cr.Cert, Key: cr.Key, CA: cr.CA,
		PixKey: o.PixKey, MerchantName: o.MerchantName, MerchantCity: o.MerchantCity,
		Timeout: 5 * time.Second,
	}
}

func newClient(t *testing.T, cfg pix.Config, o pix.Options) *pix.Client {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quietLog()
	}
	c, err := pix.New(cfg, o)
	if err != nil {
		t.Fatalf("pix.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func cobReq(chave string, cents int64) pix.CobRequest {
	return pix.CobRequest{
		Calendario: pix.Calendario{Expiracao: 600}, Valor: pix.Valor{Original: pix.FormatValor(cents)},
		Chave: chave, SolicitacaoPagador: "Totem 7, pedido 42",
	}
}

// setupCharge creates charge txid with a separate client straight to sim, so that the client
// under test starts without a token and the proxy sees none of this.
func setupCharge(t *testing.T, sim *pixsim.Sim, txid string, cents int64) {
	t.Helper()
	c := newClient(t, simConfig(t, sim, "bcb", ""), pix.Options{})
	if _, err := c.PutCob(testCtx(t), txid, cobReq(sim.Options().PixKey, cents)); err != nil {
		t.Fatalf("setting up charge %s: %v", txid, err)
	}
}

// ---- the recording proxy / scripted PSP ----

// recorded is one request the PSP received.
type recorded struct {
	Method, Path, Query string // Path escaped, as sent
	Header              http.Header
	Body                []byte
	At                  time.Time // when it arrived
	Status              int       // the answer (0: none, the connection was dropped)
	PeerCN              string    // the client certificate's common name
}

func (r recorded) String() string {
	return fmt.Sprintf("%s %s?%s -> %d", r.Method, r.Path, r.Query, r.Status)
}

// basicAuth decodes the request's HTTP Basic credentials.
func (r recorded) basicAuth() (id, secret string, ok bool) {
	return (&http.Request{Header: r.Header}).BasicAuth()
}

// script answers a request itself (returning true) or lets the proxy forward it to the
// simulator (false). n counts the requests the PSP received, this one included.
type script func(w http.ResponseWriter, r *http.Request, body []byte, n int) bool

// psp is an HTTPS server requiring a client certificate of testPKI: a recording reverse proxy
// in front of a simulator, or (sim nil) a scripted fake PSP.
type psp struct {
	srv    *httptest.Server
	sim    *pixsim.Sim
	up     *http.Client
	script script
	hellos atomic.Int64 // TLS ClientHellos received (handshakes tried)

	mu   sync.Mutex
	reqs []recorded
}

func newPSP(t *testing.T, sim *pixsim.Sim, sc script) *psp {
	t.Helper()
	pk := testPKI(t)
	p := &psp{sim: sim, script: sc}
	if sim != nil {
		c := sim.Certs()
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CAPEM) {
			t.Fatal("no CA in the simulator's certificates")
		}
		kp, err := tls.X509KeyPair(c.ClientCertPEM, c.ClientKeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}}}
		p.up = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pk.server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pk.pool,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { p.hellos.Add(1); return nil, nil },
	}
	srv.StartTLS()
	p.srv = srv
	t.Cleanup(func() {
		srv.Close()
		if p.up != nil {
			p.up.CloseIdleConnections()
		}
	})
	return p
}

type statusRec struct {
	http.ResponseWriter
	status int
}

func (w *statusRec) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRec) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (p *psp) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		rec.PeerCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	p.mu.Lock()
	idx := len(p.reqs)
	p.reqs = append(p.reqs, rec)
	p.mu.Unlock()
	sw := &statusRec{ResponseWriter: w}
	defer func() {
		p.mu.Lock()
		p.reqs[idx].Status = sw.status
		p.mu.Unlock()
	}()
	if p.script != nil && p.script(sw, r, body, idx+1) {
		return
	}
	if p.sim == nil {
		writeBody(sw, http.StatusNotFound, "application/json", `{"error":"the fake PSP has no such route"}`)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.sim.BaseURL()+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := p.up.Do(req)
	if err != nil {
		panic(http.ErrAbortHandler) // the simulator dropped it: so do we
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	for k, v := range resp.Header {
		sw.Header()[k] = v
	}
	sw.WriteHeader(resp.StatusCode)
	sw.Write(data)
}

// config is a client config for this PSP (the simulator's credentials when there is one),
// with testPKI's client certificate and CA.
func (p *psp) config(t *testing.T, profile, suffix string) pix.Config {
	t.Helper()
	cr := testPKI(t).files(t)
	id, secret, key := "kiosk-client", "psp-secret", pixsim.DefaultPixKey
	if p.sim != nil {
		o := p.sim.Options()
		id, secret, key = o.ClientID, o.ClientSecret, o.PixKey
	}
	return pix.Config{
		Profile: profile, BaseURL: p.srv.URL + suffix, ClientID: id, ClientSecretFile: secretFile(t, secret),
		Cert: cr.Cert, Key: cr.Key, CA: cr.CA, PixKey: key,
		MerchantName: "TOTEMD DEMO", MerchantCity: "SAO PAULO", Timeout: 5 * time.Second,
	}
}

func (p *psp) requests() []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

// apiPath is a recorded path without the /v2 or /api/v2 base prefix.
func apiPath(path string) string {
	for _, pre := range []string{"/api/v2", "/v2"} {
		if rest, ok := strings.CutPrefix(path, pre); ok && strings.HasPrefix(rest, "/") {
			return rest
		}
	}
	return path
}

// matching returns the requests with method (any when "") whose API path starts with prefix.
func (p *psp) matching(method, prefix string) []recorded {
	var out []recorded
	for _, r := range p.requests() {
		if (method == "" || r.Method == method) && strings.HasPrefix(apiPath(r.Path), prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (p *psp) count(method, prefix string) int { return len(p.matching(method, prefix)) }

func (p *psp) tokens() int { return p.count(http.MethodPost, "/oauth/token") }

func writeBody(w http.ResponseWriter, status int, ctype, body string) {
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// tokenScript wraps api with a token endpoint issuing "tok-1", "tok-2"... (expires_in 3600).
// api answers everything else.
func tokenScript(api script) script {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request, body []byte, i int) bool {
		if apiPath(r.URL.Path) == "/oauth/token" {
			writeBody(w, 200, "application/json", fmt.Sprintf(`{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n.Add(1)))
			return true
		}
		return api(w, r, body, i)
	}
}

// fakePSP is a scripted PSP with a working token endpoint; api answers the API calls.
func fakePSP(t *testing.T, api func(w http.ResponseWriter, r *http.Request, body []byte)) *psp {
	return newPSP(t, nil, tokenScript(func(w http.ResponseWriter, r *http.Request, body []byte, _ int) bool {
		api(w, r, body)
		return true
	}))
}

func asPixError(t *testing.T, err error) *pix.Error {
	t.Helper()
	var pe *pix.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *pix.Error", err, err)
	}
	return pe
}

// ---- token ----

func TestTokenRequestDialects(t *testing.T) {
	form := "grant_type=client_credentials&scope=cob.write+cob.read+pix.read+pix.write+webhook.read+webhook.write"
	cases := []struct {
		name, profile, dialect, suffix string
		scopes                         []string
		ctype, body                    string
	}{
		{"bcb form", "bcb", "bcb", "", nil, "application/x-www-form-urlencoded", form},
		{"sicredi form under /api/v2", "sicredi", "bcb", "/api/v2", nil, "application/x-www-form-urlencoded", form},
		{"bcb configured scopes under /v2", "bcb", "bcb", "/v2", []string{"cob.read", "pix.read"}, "application/x-www-form-urlencoded",
			"grant_type=client_credentials&scope=cob.read+pix.read"},
		{"efi json under /v2", "efi", "efi", "/v2", nil, "application/json", `{"grant_type":"client_credentials"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := startSim(t, pixsim.Options{Dialect: tc.dialect, ClientID: "kiosk-007", ClientSecret: "s3cr3t:with:colons"})
			p := newPSP(t, sim, nil)
			cfg := p.config(t, tc.profile, tc.suffix)
			cfg.Scopes = tc.scopes
			c := newClient(t, cfg, pix.Options{})
			ctx := testCtx(t)
			tok, err := c.Token(ctx)
			if err != nil || tok == "" {
				t.Fatalf("Token = %q, %v", tok, err)
			}
			txid := newTxID()
			if _, err := c.GetCob(ctx, txid); !asPixError(t, err).NotFound() {
				t.Fatalf("GetCob of an unknown charge: %v, want a 404 (the token must be accepted)", err)
			}
			reqs := p.requests()
			if len(reqs) != 2 {
				t.Fatalf("requests %v, want the token request and GET /cob", reqs)
			}
			tr := reqs[0]
			if tr.Method != http.MethodPost || tr.Path != "/oauth/token" || tr.Query != "" {
				t.Errorf("token request %s %s?%s, want POST /oauth/token at the host's root", tr.Method, tr.Path, tr.Query)
			}
			if got := tr.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("token Content-Type %q, want %q", got, tc.ctype)
			}
			if string(tr.Body) != tc.body {
				t.Errorf("token body\n got %s\nwant %s", tr.Body, tc.body)
			}
			wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("kiosk-007:s3cr3t:with:colons"))
			if got := tr.Header.Get("Authorization"); got != wantAuth {
				t.Errorf("token Authorization %q, want %q", got, wantAuth)
			}
			if got := tr.Header.Get("Accept"); got != "application/json" {
				t.Errorf("token Accept %q", got)
			}
			if tr.PeerCN != testPKI(t).clientCert.Subject.CommonName {
				t.Errorf("token request made with client certificate %q", tr.PeerCN)
			}
			api := reqs[1]
			if api.Path != tc.suffix+"/cob/"+txid || api.Header.Get("Authorization") != "Bearer "+tok {
				t.Errorf("API request %s with Authorization %q, want %s with Bearer %s", api.Path, api.Header.Get("Authorization"), tc.suffix+"/cob/"+txid, tok)
			}
		})
	}
}

func TestTokenCachedUntilShortlyBeforeExpiry(t *testing.T) {
	cases := []struct {
		ttl             time.Duration
		cached, refresh time.Duration // still cached at t0+cached; refreshed at t0+refresh (before the PSP expires it)
	}{
		{time.Hour, 59*time.Minute - time.Second, 59*time.Minute + time.Second},
		{100 * time.Second, 89 * time.Second, 91 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.ttl.String(), func(t *testing.T) {
			clk := newFakeClock()
			sim := startSim(t, pixsim.Options{Now: clk.Now, TokenTTL: tc.ttl})
			txid := newTxID()
			setupCharge(t, sim, txid, 500)
			p := newPSP(t, sim, nil)
			c := newClient(t, p.config(t, "bcb", "/v2"), pix.Options{Now: clk.Now})
			ctx := testCtx(t)
			get := func() {
				t.Helper()
				if _, err := c.GetCob(ctx, txid); err != nil {
					t.Fatalf("GetCob: %v", err)
				}
			}
			for range 40 {
				get()
			}
			if n := p.tokens(); n != 1 {
				t.Fatalf("%d token requests for 40 calls, want 1", n)
			}
			clk.Set(t0.Add(tc.cached))
			get()
			if n := p.tokens(); n != 1 {
				t.Fatalf("at +%s: %d token requests, want the cached token", tc.cached, n)
			}
			clk.Set(t0.Add(tc.refresh))
			get()
			if n := p.tokens(); n != 2 {
				t.Fatalf("at +%s (expires_in %s): %d token requests, want a new token", tc.refresh, tc.ttl, n)
			}
			gets := p.matching(http.MethodGet, "/cob/")
			for _, r := range gets {
				if r.Status != http.StatusOK {
					t.Errorf("%v: want every GET answered 200 (the token refreshed before it expired)", r)
				}
			}
			if a, b := gets[len(gets)-2].Header.Get("Authorization"), gets[len(gets)-1].Header.Get("Authorization"); a == b {
				t.Errorf("the call after the refresh still used the old token")
			}
		})
	}
}

func TestTokenOneRequestForConcurrentCalls(t *testing.T) {
	sim := startSim(t, pixsim.Options{})
	txid := newTxID()
	setupCharge(t, sim, txid, 990)
	// A slow token endpoint makes every caller arrive while the first request is in flight.
	sim.Fail(pixsim.Fault{Path: "/oauth/token", Delay: 300 * time.Millisecond})
	p := newPSP(t, sim, nil)
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.GetCob(ctx, txid)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("GetCob: %v", err)
		}
	}
	if n := p.tokens(); n != 1 {
		t.Errorf("%d token requests for 20 concurrent calls, want 1", n)
	}
	if n := p.count(http.MethodGet, "/cob/"); n != 20 {
		t.Errorf("%d GET /cob, want 20", n)
	}
}

func TestUnauthorizedRetriedOnceWithNewToken(t *testing.T) {
	cases := []struct {
		name      string
		provoke   func(sim *pixsim.Sim)
		wantErr   bool
		wantGets  []int // statuses of the GET /cob requests
		wantToken int
	}{
		{"one 401", func(s *pixsim.Sim) { s.Fail(pixsim.Fault{Path: "/cob", Method: "GET", Status: 401}) }, false, []int{401, 200}, 2},
		{"401 twice: error, no loop", func(s *pixsim.Sim) { s.Fail(pixsim.Fault{Path: "/cob", Method: "GET", Status: 401, Times: 5}) }, true, []int{401, 401}, 2},
		{"tokens expired by the PSP", func(s *pixsim.Sim) { s.ExpireTokens() }, false, []int{401, 200}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := startSim(t, pixsim.Options{})
			p := newPSP(t, sim, nil)
			c := newClient(t, p.config(t, "bcb", "/api/v2"), pix.Options{})
			ctx := testCtx(t)
			txid := newTxID()
			if _, err := c.PutCob(ctx, txid, cobReq(sim.Options().PixKey, 1000)); err != nil {
				t.Fatal(err)
			}
			tc.provoke(sim)
			_, err := c.GetCob(ctx, txid)
			if tc.wantErr {
				if pe := asPixError(t, err); pe.Status != 401 {
					t.Fatalf("error status %d, want 401", pe.Status)
				}
			} else if err != nil {
				t.Fatalf("GetCob: %v", err)
			}
			var got []int
			for _, r := range p.matching(http.MethodGet, "/cob/") {
				got = append(got, r.Status)
			}
			if !slices.Equal(got, tc.wantGets) {
				t.Errorf("GET /cob answers %v, want %v", got, tc.wantGets)
			}
			if n := p.tokens(); n != tc.wantToken {
				t.Errorf("%d token requests, want %d", n, tc.wantToken)
			}
			gets := p.matching(http.MethodGet, "/cob/")
			if len(gets) == 2 && gets[0].Header.Get("Authorization") == gets[1].Header.Get("Authorization") {
				t.Error("the retry after a 401 used the same token")
			}
			if !tc.wantErr {
				// And the new token is the one kept.
				if _, err := c.GetCob(ctx, txid); err != nil {
					t.Fatal(err)
				}
				if n := p.tokens(); n != tc.wantToken {
					t.Errorf("%d token requests after one more call, want %d", n, tc.wantToken)
				}
			}
		})
	}
}

func TestWrongSecret(t *testing.T) {
	for _, dialect := range []string{"bcb", "efi"} {
		t.Run(dialect, func(t *testing.T) {
			sim := startSim(t, pixsim.Options{Dialect: dialect})
			p := newPSP(t, sim, nil)
			cfg := p.config(t, dialect, "/v2") // the profiles are named like the dialects
			cfg.ClientSecretFile = secretFile(t, "not-the-secret")
			c := newClient(t, cfg, pix.Options{})
			start := time.Now()
			_, err := c.GetCob(testCtx(t), newTxID())
			pe := asPixError(t, err)
			if pe.Status != 401 || pe.Op != "POST /oauth/token" || pe.Temporary() {
				t.Errorf("error %+v, want a permanent 401 of POST /oauth/token", pe)
			}
			if !strings.Contains(err.Error(), "invalid_client") {
				t.Errorf("error %q does not say what the PSP said (invalid_client)", err)
			}
			if dialect == "efi" && pe.Nome != "invalid_client" {
				t.Errorf("Efí error nome %q, want invalid_client", pe.Nome)
			}
			if n := p.tokens(); n != 1 {
				t.Errorf("%d token requests, want 1 (no retry storm)", n)
			}
			if n := p.count("", "/cob"); n != 0 {
				t.Errorf("%d API requests without a token", n)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// ---- retries ----

func TestRetries(t *testing.T) {
	const dflt = -1
	cases := []struct {
		name       string
		faults     []pixsim.Fault
		maxRetries int
		unknown    bool // GET a charge that does not exist
		wantStatus int  // 0: success
		wantGets   int
		wantTokens int
	}{
		{"500 once then success", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 500}}, dflt, false, 0, 2, 1},
		{"502 once then success", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 502}}, dflt, false, 0, 2, 1},
		{"503 twice then success", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 503, Times: 2}}, dflt, false, 0, 3, 1},
		{"503 three times: error after MaxRetries", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 503, Times: 3}}, dflt, false, 503, 3, 1},
		{"503 with MaxRetries 0", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 503, Times: 3}}, 0, false, 503, 1, 1},
		{"504 with MaxRetries 1", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 504, Times: 3}}, 1, false, 504, 2, 1},
		{"429 without Retry-After", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 429}}, dflt, false, 0, 2, 1},
		{"400 never retried", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 400, Times: 3}}, dflt, false, 400, 1, 1},
		{"403 never retried", []pixsim.Fault{{Path: "/cob", Method: "GET", Status: 403, Times: 3}}, dflt, false, 403, 1, 1},
		{"404 never retried", nil, dflt, true, 404, 1, 1},
		{"token 500 once", []pixsim.Fault{{Path: "/oauth/token", Status: 500}}, dflt, false, 0, 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, pixsim.Options{})
			txid := newTxID()
			setupCharge(t, sim, txid, 1500)
			for _, f := range tc.faults {
				sim.Fail(f)
			}
			p := newPSP(t, sim, nil)
			c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
			if tc.maxRetries != dflt {
				c.MaxRetries = tc.maxRetries
			}
			get := txid
			if tc.unknown {
				get = newTxID()
			}
			cob, err := c.GetCob(testCtx(t), get)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("GetCob: %v", err)
				}
				if cob.TxID != txid || cob.Valor.Original != "15.00" {
					t.Errorf("charge %+v", cob)
				}
			} else {
				pe := asPixError(t, err)
				if pe.Status != tc.wantStatus || pe.Op != "GET /cob/{txid}" {
					t.Errorf("error %v: status %d op %q, want %d GET /cob/{txid}", err, pe.Status, pe.Op, tc.wantStatus)
				}
				if pe.Temporary() != (tc.wantStatus >= 500 || tc.wantStatus == 429) || pe.NotFound() != (tc.wantStatus == 404) {
					t.Errorf("Temporary %v NotFound %v for %d", pe.Temporary(), pe.NotFound(), pe.Status)
				}
			}
			gets := p.matching(http.MethodGet, "/cob/")
			if len(gets) != tc.wantGets {
				t.Errorf("%d GET /cob (%v), want %d", len(gets), gets, tc.wantGets)
			}
			for i := 1; i < len(gets); i++ {
				if gap := gets[i].At.Sub(gets[i-1].At); gap < 190*time.Millisecond || gap > 2*time.Second {
					t.Errorf("retry %d came %s after the previous attempt, want a backoff of about 200ms<<n", i, gap)
				}
			}
			if n := p.tokens(); n != tc.wantTokens {
				t.Errorf("%d token requests, want %d", n, tc.wantTokens)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Run("honoured", func(t *testing.T) {
		t.Parallel()
		sim := startSim(t, pixsim.Options{})
		txid := newTxID()
		setupCharge(t, sim, txid, 700)
		sim.Fail(pixsim.Fault{Path: "/cob", Method: "GET", Status: 429, RetryAfter: 1})
		p := newPSP(t, sim, nil)
		c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
		if _, err := c.GetCob(testCtx(t), txid); err != nil {
			t.Fatalf("GetCob: %v", err)
		}
		gets := p.matching(http.MethodGet, "/cob/")
		if len(gets) != 2 || gets[0].Status != 429 || gets[1].Status != 200 {
			t.Fatalf("GET /cob requests %v, want 429 then 200", gets)
		}
		if gap := gets[1].At.Sub(gets[0].At); gap < 950*time.Millisecond || gap > 2500*time.Millisecond {
			t.Errorf("the retry came %s after a 429 with Retry-After: 1", gap)
		}
	})
	cases := []struct {
		name     string
		after    int
		maxWait  time.Duration
		wantWait time.Duration
	}{
		{"Retry-After 30s over the default 10s cap", 30, 0, 30 * time.Second},
		{"Retry-After 2s over a 1s cap", 2, time.Second, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, pixsim.Options{})
			txid := newTxID()
			setupCharge(t, sim, txid, 700)
			sim.Fail(pixsim.Fault{Path: "/cob", Method: "GET", Status: 503, RetryAfter: tc.after, Times: 3})
			p := newPSP(t, sim, nil)
			c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
			if tc.maxWait > 0 {
				c.MaxRetryWait = tc.maxWait
			}
			start := time.Now()
			_, err := c.GetCob(testCtx(t), txid)
			pe := asPixError(t, err)
			if pe.Status != 503 || pe.RetryAfter() != tc.wantWait || !pe.Temporary() {
				t.Errorf("error %v: status %d RetryAfter %s, want 503 with %s", err, pe.Status, pe.RetryAfter(), tc.wantWait)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("returned after %s, want at once", d)
			}
			if n := p.count(http.MethodGet, "/cob/"); n != 1 {
				t.Errorf("%d GET /cob, want 1", n)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func TestSlowPSPTimesOut(t *testing.T) {
	t.Parallel()
	sim := startSim(t, pixsim.Options{})
	txid := newTxID()
	setupCharge(t, sim, txid, 700)
	sim.Fail(pixsim.Fault{Path: "/cob", Method: "GET", Delay: 5 * time.Second, Times: 5})
	p := newPSP(t, sim, nil)
	cfg := p.config(t, "bcb", "")
	cfg.Timeout = time.Second
	c := newClient(t, cfg, pix.Options{})
	c.MaxRetries = 1
	start := time.Now()
	_, err := c.GetCob(testCtx(t), txid)
	d := time.Since(start)
	if err == nil || !isTimeout(err) {
		t.Fatalf("GetCob against a PSP slower than the timeout: %v, want a timeout", err)
	}
	var pe *pix.Error
	if errors.As(err, &pe) {
		t.Errorf("a timeout reported as a PSP answer: %v", pe)
	}
	if n := p.count(http.MethodGet, "/cob/"); n != 2 {
		t.Errorf("%d GET /cob, want 2 (a timeout is retried, MaxRetries 1)", n)
	}
	if d < 2*time.Second || d > 4*time.Second {
		t.Errorf("took %s, want two 1s timeouts and a backoff", d)
	}
}

func TestCancellationStopsRetries(t *testing.T) {
	cases := []struct {
		name  string
		fault pixsim.Fault
	}{
		{"during the backoff", pixsim.Fault{Path: "/cob", Method: "GET", Status: 503, Times: 20}},
		{"during a slow request", pixsim.Fault{Path: "/cob", Method: "GET", Delay: 5 * time.Second, Times: 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, pixsim.Options{})
			txid := newTxID()
			setupCharge(t, sim, txid, 700)
			p := newPSP(t, sim, nil)
			c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
			c.MaxRetries = 10
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			if _, err := c.Token(ctx); err != nil {
				t.Fatal(err)
			}
			sim.Fail(tc.fault)
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := c.GetCob(ctx, txid)
			if err == nil {
				t.Fatal("GetCob succeeded")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("returned %s after the start, the context was cancelled at 100ms", d)
			}
			if n := p.count(http.MethodGet, "/cob/"); n != 1 {
				t.Errorf("%d GET /cob, want 1", n)
			}
		})
	}
}

func TestPutCobAnswerLostIsRetriedIdempotently(t *testing.T) {
	cases := []struct {
		name  string
		fault pixsim.Fault
	}{
		{"500 after the charge was made", pixsim.Fault{Path: "/cob", Method: "PUT", Status: 500, AfterHandling: true}},
		{"answer later than the timeout", pixsim.Fault{Path: "/cob", Method: "PUT", Delay: 3 * time.Second, AfterHandling: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, pixsim.Options{})
			sim.Fail(tc.fault)
			cfg := simConfig(t, sim, "bcb", "/v2")
			cfg.Timeout = time.Second
			c := newClient(t, cfg, pix.Options{})
			txid := newTxID()
			cob, err := c.PutCob(testCtx(t), txid, cobReq(sim.Options().PixKey, 2590))
			if err != nil {
				t.Fatalf("PutCob: %v", err)
			}
			ch, ok := sim.Charge(txid)
			if !ok || ch.Puts != 2 || len(sim.Charges()) != 1 || ch.AmountCents != 2590 {
				t.Errorf("charge %+v (%d charges), want one charge and 2 PUTs", ch, len(sim.Charges()))
			}
			if cob.TxID != txid || cob.Status != pix.StatusAtiva || cob.PixCopiaECola != ch.PixCopiaECola {
				t.Errorf("answer %+v", cob)
			}
		})
	}
}

// ---- request checks ----

func TestRequestChecks(t *testing.T) {
	p := newPSP(t, nil, func(w http.ResponseWriter, _ *http.Request, _ []byte, _ int) bool {
		writeBody(w, 500, "text/plain", "no request should have left")
		return true
	})
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	ctx := testCtx(t)
	key := pixsim.DefaultPixKey
	tx := newTxID()
	e2e := "E12345678202503101800abcdefghijk"
	good := cobReq(key, 1000)
	with := func(f func(r *pix.CobRequest)) pix.CobRequest {
		r := good
		r.InfoAdicionais = slices.Clone(r.InfoAdicionais)
		f(&r)
		return r
	}
	put := func(txid string, r pix.CobRequest) func() error {
		return func() error { _, err := c.PutCob(ctx, txid, r); return err }
	}
	dev := func(e2eid, id, valor, desc string) func() error {
		return func() error {
			_, err := c.PutDevolucao(ctx, e2eid, id, pix.DevolucaoRequest{Valor: valor, Descricao: desc})
			return err
		}
	}
	infos := func(n int) []pix.InfoAdicional {
		out := make([]pix.InfoAdicional, n)
		for i := range out {
			out[i] = pix.InfoAdicional{Nome: "n", Valor: "v"}
		}
		return out
	}
	cases := []struct {
		name, op, field string
		call            func() error
	}{
		{"txid 25 characters", "PUT /cob/{txid}", "txid", put(strings.Repeat("a", 25), good)},
		{"txid 36 characters", "PUT /cob/{txid}", "txid", put(strings.Repeat("a", 36), good)},
		{"txid with a hyphen", "PUT /cob/{txid}", "txid", put("totemd-"+strings.Repeat("a", 26), good)},
		{"txid with a slash", "PUT /cob/{txid}", "txid", put(strings.Repeat("a", 26)+"/x", good)},
		{"valor 1.5", "PUT /cob/{txid}", "valor.original", put(tx, with(func(r *pix.CobRequest) { r.Valor.Original = "1.5" }))},
		{"valor 0.00", "PUT /cob/{txid}", "valor.original", put(tx, with(func(r *pix.CobRequest) { r.Valor.Original = "0.00" }))},
		{"valor -1.00", "PUT /cob/{txid}", "valor.original", put(tx, with(func(r *pix.CobRequest) { r.Valor.Original = "-1.00" }))},
		{"valor 1,50", "PUT /cob/{txid}", "valor.original", put(tx, with(func(r *pix.CobRequest) { r.Valor.Original = "1,50" }))},
		{"valor 11 digits", "PUT /cob/{txid}", "valor.original", put(tx, with(func(r *pix.CobRequest) { r.Valor.Original = "12345678901.00" }))},
		{"valor empty", "PUT /cob/{txid}", "valor.original", put(tx, with(func(r *pix.CobRequest) { r.Valor.Original = "" }))},
		{"chave empty", "PUT /cob/{txid}", "chave", put(tx, with(func(r *pix.CobRequest) { r.Chave = "" }))},
		{"chave 78 characters", "PUT /cob/{txid}", "chave", put(tx, with(func(r *pix.CobRequest) { r.Chave = strings.Repeat("k", 78) }))},
		{"expiracao 0", "PUT /cob/{txid}", "calendario.expiracao", put(tx, with(func(r *pix.CobRequest) { r.Calendario.Expiracao = 0 }))},
		{"solicitacaoPagador 141 characters", "PUT /cob/{txid}", "solicitacaoPagador",
			put(tx, with(func(r *pix.CobRequest) { r.SolicitacaoPagador = strings.Repeat("é", 141) }))},
		{"51 infoAdicionais", "PUT /cob/{txid}", "infoAdicionais", put(tx, with(func(r *pix.CobRequest) { r.InfoAdicionais = infos(51) }))},
		{"infoAdicionais without nome", "PUT /cob/{txid}", "infoAdicionais[0]",
			put(tx, with(func(r *pix.CobRequest) { r.InfoAdicionais = []pix.InfoAdicional{{Valor: "x"}} }))},
		{"infoAdicionais valor 201", "PUT /cob/{txid}", "infoAdicionais[1]",
			put(tx, with(func(r *pix.CobRequest) {
				r.InfoAdicionais = []pix.InfoAdicional{{Nome: "a", Valor: "b"}, {Nome: "c", Valor: strings.Repeat("v", 201)}}
			}))},
		{"GetCob bad txid", "GET /cob/{txid}", "txid", func() error { _, err := c.GetCob(ctx, "short"); return err }},
		{"RemoveCob bad txid", "PATCH /cob/{txid}", "txid", func() error { _, err := c.RemoveCob(ctx, tx+"_"); return err }},
		{"GetPix e2eid 31", "GET /pix/{e2eid}", "e2eid", func() error { _, err := c.GetPix(ctx, e2e[:31]); return err }},
		{"GetPix e2eid with a hyphen", "GET /pix/{e2eid}", "e2eid", func() error { _, err := c.GetPix(ctx, e2e[:31]+"-"); return err }},
		{"PutDevolucao bad e2eid", "PUT /pix/{e2eid}/devolucao/{id}", "e2eid", dev(e2e+"x", "d1", "1.00", "")},
		{"PutDevolucao id 36", "PUT /pix/{e2eid}/devolucao/{id}", "id", dev(e2e, strings.Repeat("d", 36), "1.00", "")},
		{"PutDevolucao id empty", "PUT /pix/{e2eid}/devolucao/{id}", "id", dev(e2e, "", "1.00", "")},
		{"PutDevolucao id with a hyphen", "PUT /pix/{e2eid}/devolucao/{id}", "id", dev(e2e, "dev-1", "1.00", "")},
		{"PutDevolucao valor 0.00", "PUT /pix/{e2eid}/devolucao/{id}", "valor", dev(e2e, "d1", "0.00", "")},
		{"PutDevolucao valor -1.00", "PUT /pix/{e2eid}/devolucao/{id}", "valor", dev(e2e, "d1", "-1.00", "")},
		{"PutDevolucao valor 1.5", "PUT /pix/{e2eid}/devolucao/{id}", "valor", dev(e2e, "d1", "1.5", "")},
		{"PutDevolucao descricao 141", "PUT /pix/{e2eid}/devolucao/{id}", "descricao", dev(e2e, "d1", "1.00", strings.Repeat("ç", 141))},
		{"GetDevolucao bad id", "GET /pix/{e2eid}/devolucao/{id}", "id", func() error { _, err := c.GetDevolucao(ctx, e2e, "a b"); return err }},
		{"GetDevolucao bad e2eid", "GET /pix/{e2eid}/devolucao/{id}", "e2eid", func() error { _, err := c.GetDevolucao(ctx, "E1", "d1"); return err }},
		{"webhook http://", "PUT /webhook/{chave}", "webhookUrl", func() error { return c.PutWebhook(ctx, key, "http://cloud.example.com/pix") }},
		{"webhook without scheme", "PUT /webhook/{chave}", "webhookUrl", func() error { return c.PutWebhook(ctx, key, "cloud.example.com/pix") }},
		{"webhook without host", "PUT /webhook/{chave}", "webhookUrl", func() error { return c.PutWebhook(ctx, key, "https:///pix") }},
		{"webhook chave 78", "PUT /webhook/{chave}", "chave", func() error { return c.PutWebhook(ctx, strings.Repeat("k", 78), "https://cloud.example.com/pix") }},
		{"ListPix fim before inicio", "GET /pix", "fim", func() error { _, err := c.ListPix(ctx, t0, t0.Add(-time.Second), 0, 10); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var re *pix.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want a *pix.RequestError", err, err)
			}
			if re.Op != tc.op || re.Field != tc.field || re.Rule == "" {
				t.Errorf("RequestError %+v, want op %q field %q", re, tc.op, tc.field)
			}
			if want := "pix: " + tc.op + ": " + tc.field + " "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q, want it to start with %q", err, want)
			}
			if n := len(p.requests()); n != 0 {
				t.Fatalf("%d requests left: %v", n, p.requests())
			}
		})
	}
}

func TestRequestChecksAcceptBoundaries(t *testing.T) {
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeBody(w, 200, "application/json", `{}`)
	})
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	ctx := testCtx(t)
	e2e := "E12345678202503101800abcdefghijk"
	r := cobReq(strings.Repeat("k", 77), 1)
	infos := make([]pix.InfoAdicional, 50)
	for i := range infos {
		infos[i] = pix.InfoAdicional{Nome: strings.Repeat("ñ", 50), Valor: strings.Repeat("ã", 200)}
	}
	cases := []struct {
		name string
		call func() error
	}{
		{"txid 26", func() error { _, err := c.PutCob(ctx, strings.Repeat("A", 26), r); return err }},
		{"txid 35", func() error { _, err := c.PutCob(ctx, strings.Repeat("z9", 17)+"Z", r); return err }},
		{"valor 0.01, chave 77", func() error { _, err := c.PutCob(ctx, newTxID(), r); return err }},
		{"valor 9999999999.99", func() error {
			r := r
			r.Valor.Original = "9999999999.99"
			_, err := c.PutCob(ctx, newTxID(), r)
			return err
		}},
		{"solicitacaoPagador 140 accented, 50 infoAdicionais at their limits", func() error {
			r := r
			r.SolicitacaoPagador, r.InfoAdicionais = strings.Repeat("é", 140), infos
			_, err := c.PutCob(ctx, newTxID(), r)
			return err
		}},
		{"devolucao id 1", func() error { _, err := c.PutDevolucao(ctx, e2e, "1", pix.DevolucaoRequest{Valor: "0.01"}); return err }},
		{"devolucao id 35, descricao 140", func() error {
			_, err := c.PutDevolucao(ctx, e2e, strings.Repeat("D", 35), pix.DevolucaoRequest{Valor: "1.00", Descricao: strings.Repeat("ç", 140)})
			return err
		}},
		{"GetPix", func() error { _, err := c.GetPix(ctx, e2e); return err }},
		{"webhook chave 77", func() error { return c.PutWebhook(ctx, strings.Repeat("k", 77), "https://h.example/x") }},
		{"ListPix fim == inicio", func() error { _, err := c.ListPix(ctx, t0, t0, 0, 0); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.requests()) - p.tokens()
			if err := tc.call(); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if n := len(p.requests()) - p.tokens() - before; n != 1 {
				t.Errorf("%d API requests sent, want 1", n)
			}
		})
	}
}

// ---- errors ----

func TestErrorDecoding(t *testing.T) {
	long := strings.Repeat("x", 2000)
	cases := []struct {
		name   string
		status int
		ctype  string
		body   string
		check  func(t *testing.T, e *pix.Error)
	}{
		{"RFC 7807 with violacoes", 400, "application/problem+json",
			`{"type":"https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida","title":"Cobrança inválida.","status":400,` +
				`"detail":"A requisição que busca alterar ou criar uma cobrança não respeita o schema.",` +
				`"violacoes":[{"razao":"O campo cob.valor.original não respeita o schema.","propriedade":"cob.valor.original","valor":"1.5"},` +
				`{"razao":"O campo cob.chave é obrigatório.","propriedade":"cob.chave"}]}`,
			func(t *testing.T, e *pix.Error) {
				want := []pix.Violacao{
					{Razao: "O campo cob.valor.original não respeita o schema.", Propriedade: "cob.valor.original", Valor: "1.5"},
					{Razao: "O campo cob.chave é obrigatório.", Propriedade: "cob.chave"},
				}
				if e.Type != "https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida" || e.Title != "Cobrança inválida." ||
					!strings.HasPrefix(e.Detail, "A requisição") || !slices.Equal(e.Violacoes, want) || e.Body != "" {
					t.Errorf("decoded %+v", e)
				}
				for _, s := range []string{"HTTP 400", "Cobrança inválida.", "cob.valor.original: O campo", "cob.chave: O campo"} {
					if !strings.Contains(e.Error(), s) {
						t.Errorf("message %q lacks %q", e.Error(), s)
					}
				}
			}},
		{"Efí nome/mensagem", 404, "application/json",
			`{"nome":"cobranca_nao_encontrada","mensagem":"Nenhuma cobrança encontrada para o txid informado"}`,
			func(t *testing.T, e *pix.Error) {
				if e.Nome != "cobranca_nao_encontrada" || e.Mensagem != "Nenhuma cobrança encontrada para o txid informado" || !e.NotFound() || e.Body != "" {
					t.Errorf("decoded %+v", e)
				}
				if !strings.Contains(e.Error(), "cobranca_nao_encontrada: Nenhuma cobrança") {
					t.Errorf("message %q", e.Error())
				}
			}},
		{"non-JSON 502 kept in Body", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>\n",
			func(t *testing.T, e *pix.Error) {
				if e.Body != "<html><body><h1>502 Bad Gateway</h1></body></html>" || !e.Temporary() || e.Title != "" {
					t.Errorf("decoded %+v", e)
				}
				if !strings.Contains(e.Error(), "502 Bad Gateway") {
					t.Errorf("message %q", e.Error())
				}
			}},
		{"long body cut to 512 bytes", 500, "text/plain", long,
			func(t *testing.T, e *pix.Error) {
				if e.Body != long[:512] {
					t.Errorf("Body has %d bytes, want the first 512", len(e.Body))
				}
			}},
		{"JSON without a known field kept in Body", 500, "application/json", `{"error":"boom"}`,
			func(t *testing.T, e *pix.Error) {
				if e.Body != `{"error":"boom"}` {
					t.Errorf("Body %q", e.Body)
				}
			}},
		{"Retry-After as an HTTP date", 503, "text/plain", "busy",
			func(t *testing.T, e *pix.Error) {
				if e.RetryAfter() < 50*time.Second || e.RetryAfter() > 61*time.Second {
					t.Errorf("RetryAfter %s, want about a minute", e.RetryAfter())
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if tc.name == "Retry-After as an HTTP date" {
					w.Header().Set("Retry-After", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
				}
				writeBody(w, tc.status, tc.ctype, tc.body)
			})
			c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
			c.MaxRetries = 0
			_, err := c.PutCob(testCtx(t), newTxID(), cobReq(pixsim.DefaultPixKey, 150))
			e := asPixError(t, err)
			if e.Status != tc.status || e.Op != "PUT /cob/{txid}" {
				t.Errorf("status %d op %q, want %d PUT /cob/{txid}", e.Status, e.Op, tc.status)
			}
			if !strings.HasPrefix(e.Error(), fmt.Sprintf("pix: PUT /cob/{txid}: HTTP %d", tc.status)) {
				t.Errorf("message %q", e.Error())
			}
			tc.check(t, e)
		})
	}
}

func TestSuccessWithUnexpectedBody(t *testing.T) {
	cases := []struct{ name, body string }{
		{"not JSON", "OK"},
		{"HTML", "<html>ok</html>"},
		{"JSON of the wrong shape", `{"status":5,"txid":7}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeBody(w, 200, "text/plain", tc.body) })
			c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
			c.MaxRetries = 0
			_, err := c.GetCob(testCtx(t), newTxID())
			if err == nil {
				t.Fatalf("GetCob accepted a 200 with body %q", tc.body)
			}
			var pe *pix.Error
			if errors.As(err, &pe) {
				t.Errorf("a 200 reported as a PSP error: %v", err)
			}
			if !strings.Contains(err.Error(), "GET /cob/{txid}") || !strings.Contains(err.Error(), "200") {
				t.Errorf("message %q should name the call and the status", err)
			}
		})
	}
	t.Run("empty 2xx where no answer is read", func(t *testing.T) {
		p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
		c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
		if err := c.DeleteWebhook(testCtx(t), pixsim.DefaultPixKey); err != nil {
			t.Errorf("DeleteWebhook with 204: %v", err)
		}
		if err := c.PutWebhook(testCtx(t), pixsim.DefaultPixKey, "https://cloud.example.com/wh"); err != nil {
			t.Errorf("PutWebhook with 204: %v", err)
		}
	})
}

func TestErrorsFromPixsim(t *testing.T) {
	t.Run("bcb problem with violacoes", func(t *testing.T) {
		sim := startSim(t, pixsim.Options{})
		c := newClient(t, simConfig(t, sim, "bcb", "/v2"), pix.Options{})
		txid := newTxID()
		_, err := c.PutCob(testCtx(t), txid, cobReq("someone-else@example.com", 100))
		e := asPixError(t, err)
		if e.Status != 400 || e.Type != "https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida" || e.Title == "" ||
			len(e.Violacoes) != 1 || e.Violacoes[0].Propriedade != "cob.chave" || e.Violacoes[0].Valor != "someone-else@example.com" {
			t.Errorf("decoded %+v", e)
		}
		if _, ok := sim.Charge(txid); ok {
			t.Error("the simulator made the charge")
		}
	})
	t.Run("bcb refund over the amount", func(t *testing.T) {
		sim := startSim(t, pixsim.Options{})
		c := newClient(t, simConfig(t, sim, "bcb", ""), pix.Options{})
		ctx := testCtx(t)
		txid := newTxID()
		if _, err := c.PutCob(ctx, txid, cobReq(sim.Options().PixKey, 1000)); err != nil {
			t.Fatal(err)
		}
		e2e, err := sim.Pay(txid, 1000)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.PutDevolucao(ctx, e2e, "devx1", pix.DevolucaoRequest{Valor: "10.01"})
		e := asPixError(t, err)
		if e.Status != 400 || len(e.Violacoes) != 1 || e.Violacoes[0].Propriedade != "devolucao.valor" {
			t.Errorf("decoded %+v", e)
		}
		if len(sim.Refunds()) != 0 {
			t.Errorf("refunds %+v", sim.Refunds())
		}
	})
	t.Run("efi not found", func(t *testing.T) {
		sim := startSim(t, pixsim.Options{Dialect: "efi"})
		c := newClient(t, simConfig(t, sim, "efi", "/v2"), pix.Options{})
		_, err := c.GetCob(testCtx(t), newTxID())
		e := asPixError(t, err)
		if !e.NotFound() || e.Nome != "cobranca_nao_encontrada" || e.Mensagem == "" || e.Title != "" {
			t.Errorf("decoded %+v", e)
		}
	})
}

// ---- happy paths against the simulator ----

func TestAgainstPixsim(t *testing.T) {
	cases := []struct {
		name, profile, dialect, suffix, key string
		dir                                 bool
	}{
		{"bcb at the root, state dir", "bcb", "bcb", "", "", true},
		{"bcb under /v2", "bcb", "bcb", "/v2", "", false},
		{"efi under /v2", "efi", "efi", "/v2", "", false},
		{"efi at the root", "efi", "efi", "", "pagamentos@loja.example.com", false},
		{"sicredi under /api/v2, phone key", "sicredi", "bcb", "/api/v2", "+5511987654321", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			o := pixsim.Options{Dialect: tc.dialect, Now: clk.Now, PixKey: tc.key}
			if tc.dir {
				o.Dir = t.TempDir()
			}
			sim := startSim(t, o)
			cfg := simConfig(t, sim, tc.profile, tc.suffix)
			if tc.dir && cfg.Cert != filepath.Join(o.Dir, "client.pem") {
				t.Fatalf("cert %s, want the file in the state dir", cfg.Cert)
			}
			c := newClient(t, cfg, pix.Options{Now: clk.Now})
			ctx := testCtx(t)
			key := sim.Options().PixKey

			// PUT /cob twice: one charge, the same answer.
			txid := newTxID()
			req := cobReq(key, 1250)
			req.InfoAdicionais = []pix.InfoAdicional{{Nome: "Pedido", Valor: "42"}}
			req.Calendario.Criacao = t0.Add(-time.Hour) // never sent
			first, err := c.PutCob(ctx, txid, req)
			if err != nil {
				t.Fatalf("PutCob: %v", err)
			}
			if first.TxID != txid || first.Status != pix.StatusAtiva || first.Valor.Original != "12.50" || first.Chave != key ||
				first.Calendario.Expiracao != 600 || !first.Calendario.Criacao.Equal(t0) || first.Revisao != 0 ||
				!strings.HasPrefix(first.PixCopiaECola, "000201") || first.Location == "" || first.Loc == nil || first.Loc.Location != first.Location ||
				len(first.InfoAdicionais) != 1 || first.SolicitacaoPagador != req.SolicitacaoPagador {
				t.Errorf("PutCob answered %+v", first)
			}
			second, err := c.PutCob(ctx, txid, req)
			if err != nil {
				t.Fatalf("second PutCob: %v", err)
			}
			if second.PixCopiaECola != first.PixCopiaECola || second.Location != first.Location || second.Loc.ID != first.Loc.ID {
				t.Errorf("second PutCob answered a different charge: %+v", second)
			}
			if ch, _ := sim.Charge(txid); ch.Puts != 2 || len(sim.Charges()) != 1 || ch.AmountCents != 1250 {
				t.Errorf("charge %+v, %d charges; want 2 PUTs on one charge", ch, len(sim.Charges()))
			}
			got, err := c.GetCob(ctx, txid)
			if err != nil || got.Status != pix.StatusAtiva || len(got.Pix) != 0 {
				t.Fatalf("GetCob before payment: %+v, %v", got, err)
			}

			// Paid: CONCLUIDA with its pix.
			clk.Advance(30 * time.Second)
			e2e, err := sim.Pay(txid, 1250)
			if err != nil {
				t.Fatal(err)
			}
			got, err = c.GetCob(ctx, txid)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != pix.StatusConcluida || len(got.Pix) != 1 || got.Pix[0].EndToEndID != e2e || got.Pix[0].Valor != "12.50" ||
				got.Pix[0].TxID != txid || !got.Pix[0].Horario.Equal(t0.Add(30*time.Second)) {
				t.Errorf("GetCob after payment: %+v", got)
			}
			px, err := c.GetPix(ctx, e2e)
			if err != nil || px.EndToEndID != e2e || px.TxID != txid || px.Valor != "12.50" || px.Chave != key {
				t.Errorf("GetPix: %+v, %v", px, err)
			}

			// Refund, twice with the same id: one refund.
			dreq := pix.DevolucaoRequest{Valor: "12.50", Descricao: "Pagamento após o cancelamento"}
			d1, err := c.PutDevolucao(ctx, e2e, "totemdev1", dreq)
			if err != nil {
				t.Fatalf("PutDevolucao: %v", err)
			}
			d2, err := c.PutDevolucao(ctx, e2e, "totemdev1", dreq)
			if err != nil {
				t.Fatalf("second PutDevolucao: %v", err)
			}
			if d1.ID != "totemdev1" || d1.RtrID == "" || d2.RtrID != d1.RtrID || d1.Valor != "12.50" || d1.Status == "" {
				t.Errorf("refunds %+v / %+v", d1, d2)
			}
			if rs := sim.Refunds(); len(rs) != 1 || rs[0].AmountCents != 1250 || rs[0].ID != "totemdev1" || rs[0].E2EID != e2e {
				t.Errorf("simulator refunds %+v, want one", rs)
			}
			gd, err := c.GetDevolucao(ctx, e2e, "totemdev1")
			if err != nil || gd.RtrID != d1.RtrID || gd.Valor != "12.50" || gd.Status != "DEVOLVIDO" || gd.Horario.Solicitacao.IsZero() {
				t.Errorf("GetDevolucao: %+v, %v", gd, err)
			}
			if _, err := c.GetDevolucao(ctx, e2e, "other"); !asPixError(t, err).NotFound() {
				t.Errorf("GetDevolucao of an unknown id: %v", err)
			}

			// Cancel a second charge.
			tx2 := newTxID()
			if _, err := c.PutCob(ctx, tx2, cobReq(key, 300)); err != nil {
				t.Fatal(err)
			}
			rm, err := c.RemoveCob(ctx, tx2)
			if err != nil || rm.Status != pix.StatusRemovidaRecebedor || rm.TxID != tx2 || rm.Revisao != 1 {
				t.Fatalf("RemoveCob: %+v, %v", rm, err)
			}
			if ch, _ := sim.Charge(tx2); ch.Status != pix.StatusRemovidaRecebedor {
				t.Errorf("simulator status %s", ch.Status)
			}
			if _, err := sim.Pay(tx2, 300); !errors.Is(err, pixsim.ErrNotPayable) {
				t.Errorf("paying a removed charge: %v", err)
			}

			// Webhook.
			const hook = "https://cloud.totemd.example/pix/webhook?kiosk=7"
			if err := c.PutWebhook(ctx, key, hook); err != nil {
				t.Fatalf("PutWebhook: %v", err)
			}
			wh, err := c.GetWebhook(ctx, key)
			if err != nil || wh.WebhookURL != hook || wh.Chave != key || wh.Criacao.IsZero() {
				t.Errorf("GetWebhook: %+v, %v", wh, err)
			}
			if err := c.DeleteWebhook(ctx, key); err != nil {
				t.Fatalf("DeleteWebhook: %v", err)
			}
			if _, err := c.GetWebhook(ctx, key); !asPixError(t, err).NotFound() {
				t.Errorf("GetWebhook after delete: %v", err)
			}
			if err := c.DeleteWebhook(ctx, key); !asPixError(t, err).NotFound() {
				t.Errorf("second DeleteWebhook: %v", err)
			}
		})
	}
}

func TestListPixPaging(t *testing.T) {
	clk := newFakeClock()
	sim := startSim(t, pixsim.Options{Now: clk.Now})
	p := newPSP(t, sim, nil)
	c := newClient(t, p.config(t, "bcb", "/v2"), pix.Options{Now: clk.Now})
	ctx := testCtx(t)
	key := sim.Options().PixKey
	const n = 230
	paid := map[string]int64{}
	var order []string
	for i := range n {
		tx := newTxID()
		if _, err := c.PutCob(ctx, tx, cobReq(key, int64(100+i))); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second) // payment i at t0 + (i+1)s
		e2e, err := sim.Pay(tx, int64(100+i))
		if err != nil {
			t.Fatal(err)
		}
		paid[e2e] = int64(100 + i)
		order = append(order, e2e)
	}
	inicio, fim := t0.Add(-time.Minute), clk.Now().Add(time.Minute)
	before := p.count(http.MethodGet, "/pix")
	all, err := c.AllPix(ctx, inicio, fim)
	if err != nil {
		t.Fatalf("AllPix: %v", err)
	}
	if len(all) != n {
		t.Fatalf("AllPix found %d, want %d", len(all), n)
	}
	for i, px := range all {
		if px.EndToEndID != order[i] {
			t.Fatalf("AllPix[%d] is %s, want %s (in order, no duplicates)", i, px.EndToEndID, order[i])
		}
		if v, _ := pix.ParseValor(px.Valor); v != paid[px.EndToEndID] {
			t.Errorf("%s valor %s, want %d centavos", px.EndToEndID, px.Valor, paid[px.EndToEndID])
		}
	}
	pages := p.matching(http.MethodGet, "/pix")[before:]
	if len(pages) != 3 {
		t.Fatalf("%d GET /pix for %d payments, want 3 pages", len(pages), n)
	}
	for i, r := range pages {
		q, _ := url.ParseQuery(r.Query)
		if q.Get("paginacao.paginaAtual") != strconv.Itoa(i) || q.Get("paginacao.itensPorPagina") != "100" ||
			q.Get("inicio") != inicio.Format(time.RFC3339) || q.Get("fim") != fim.Format(time.RFC3339) {
			t.Errorf("page %d asked with %v", i, q)
		}
	}

	l, err := c.ListPix(ctx, inicio, fim, 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	pg := l.Parametros.Paginacao
	if pg.PaginaAtual != 2 || pg.ItensPorPagina != 100 || pg.QuantidadeDePaginas != 3 || pg.QuantidadeTotalDeItens != n || len(l.Pix) != 30 ||
		!l.Parametros.Inicio.Equal(inicio) || !l.Parametros.Fim.Equal(fim) {
		t.Errorf("ListPix page 2: %+v with %d pix", l.Parametros, len(l.Pix))
	}

	// A narrower window: payments 30..229.
	some, err := c.AllPix(ctx, t0.Add(31*time.Second), clk.Now())
	if err != nil || len(some) != 200 || some[0].EndToEndID != order[30] || some[199].EndToEndID != order[229] {
		t.Errorf("AllPix over a narrower window: %d, %v", len(some), err)
	}
	// An empty window: one request.
	before = p.count(http.MethodGet, "/pix")
	none, err := c.AllPix(ctx, t0.Add(-2*time.Hour), t0.Add(-time.Hour))
	if err != nil || len(none) != 0 {
		t.Errorf("AllPix over an empty window: %v, %v", none, err)
	}
	if k := p.count(http.MethodGet, "/pix") - before; k != 1 {
		t.Errorf("%d requests for an empty window", k)
	}
}

// TestListPixWindowNotNarrowed: a payment inside [inicio, fim] is listed even when the
// bounds have fractions of a second (reconciling up to time.Now()). The client may widen the
// window to whole seconds; it must never narrow it.
func TestListPixWindowNotNarrowed(t *testing.T) {
	clk := newFakeClock()
	sim := startSim(t, pixsim.Options{Now: clk.Now})
	c := newClient(t, simConfig(t, sim, "bcb", ""), pix.Options{Now: clk.Now})
	ctx := testCtx(t)
	paid := map[time.Duration]string{}
	for _, at := range []time.Duration{300 * time.Millisecond, 500 * time.Millisecond, 700 * time.Millisecond} {
		tx := newTxID()
		if _, err := c.PutCob(ctx, tx, cobReq(sim.Options().PixKey, 100)); err != nil {
			t.Fatal(err)
		}
		clk.Set(t0.Add(at))
		e2e, err := sim.Pay(tx, 100)
		if err != nil {
			t.Fatal(err)
		}
		paid[at] = e2e
	}
	got, err := c.AllPix(ctx, t0.Add(300*time.Millisecond), t0.Add(700*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for at, e2e := range paid {
		if !slices.ContainsFunc(got, func(p pix.Pix) bool { return p.EndToEndID == e2e }) {
			t.Errorf("the payment at t0+%s (inside the window [t0+300ms, t0+700ms]) is missing", at)
		}
	}
}

func TestFormatParseValor(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		s     string
	}{{0, "0.00"}, {1, "0.01"}, {99, "0.99"}, {100, "1.00"}, {1234, "12.34"}, {999999999999, "9999999999.99"}} {
		if got := pix.FormatValor(tc.cents); got != tc.s {
			t.Errorf("FormatValor(%d) = %q, want %q", tc.cents, got, tc.s)
		}
		if got, err := pix.ParseValor(tc.s); err != nil || got != tc.cents {
			t.Errorf("ParseValor(%q) = %d, %v", tc.s, got, err)
		}
	}
	for _, s := range []string{"", "1", "1.5", "1.500", "-1.00", "1,00", " 1.00", "12345678901.00", "1e2.00"} {
		if _, err := pix.ParseValor(s); err == nil {
			t.Errorf("ParseValor(%q) accepted", s)
		}
	}
}
