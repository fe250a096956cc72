package pixsim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the simulated clock's start.
var t0 = time.Date(2025, 3, 10, 18, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running simulator, its clock and a client holding its client certificate.
type env struct {
	t     *testing.T
	sim   *Sim
	clock *clock
	hc    *http.Client
	tok   string
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newEnv(t *testing.T, mod ...func(o *Options)) *env {
	t.Helper()
	c := &clock{t: t0}
	o := Options{Now: c.Now, Logger: quiet()}
	for _, m := range mod {
		m(&o)
	}
	sim, err := Start(o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{t: t, sim: sim, clock: c, hc: clientFor(t, sim.Certs(), nil)}
}

// clientFor is an HTTPS client trusting certs' CA and presenting its client certificate
// (or cert, when given; an empty one presents none).
func clientFor(t *testing.T, certs Certs, cert *tls.Certificate) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certs.CAPEM) {
		t.Fatal("no CA in Certs")
	}
	tc := &tls.Config{RootCAs: pool}
	switch {
	case cert == nil:
		c, err := tls.X509KeyPair(certs.ClientCertPEM, certs.ClientKeyPEM)
		if err != nil {
			t.Fatalf("client key pair: %v", err)
		}
		tc.Certificates = []tls.Certificate{c}
	case cert.Certificate != nil:
		tc.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: tc}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// raw sends a request; body is nil, a string (sent as is) or a value (sent as JSON).
func (e *env) raw(method, path string, body any, hdr map[string]string) (resp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.sim.BaseURL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}, nil
}

// call sends an API request with the env's token (fetched on first use).
func (e *env) call(method, path string, body any) resp {
	e.t.Helper()
	if e.tok == "" {
		e.tok = e.token("")
	}
	r, err := e.raw(method, path, body, map[string]string{"Authorization": "Bearer " + e.tok})
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// token gets an access token with the form (BCB/Sicredi) request; scope "" asks for none.
func (e *env) token(scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r, err := e.raw("POST", "/oauth/token", form.Encode(), map[string]string{
		"Content-Type":  "application/x-www-form-urlencoded",
		"Authorization": basic(DefaultClientID, DefaultClientSecret),
	})
	if err != nil || r.status != 200 {
		e.t.Fatalf("token: %v %v", err, r)
	}
	return r.obj(e.t)["access_token"].(string)
}

func basic(id, secret string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(id, secret)
	return req.Header.Get("Authorization")
}

func txid(n int) string { return fmt.Sprintf("totemdtest%022d", n) }

func cobBody(cents int64) map[string]any {
	return map[string]any{
		"calendario":         map[string]any{"expiracao": 300},
		"valor":              map[string]any{"original": fmtCents(cents)},
		"chave":              DefaultPixKey,
		"solicitacaoPagador": "Totem 1 - pedido",
	}
}

// mustCreate creates a charge (201) and returns its body.
func (e *env) mustCreate(id string, cents int64) map[string]any {
	e.t.Helper()
	r := e.call("PUT", "/cob/"+id, cobBody(cents))
	if r.status != 201 {
		e.t.Fatalf("PUT /cob/%s: %v", id, r)
	}
	return r.obj(e.t)
}

func (e *env) mustPay(id string, cents int64) string {
	e.t.Helper()
	e2e, err := e.sim.Pay(id, cents)
	if err != nil {
		e.t.Fatalf("Pay(%s): %v", id, err)
	}
	return e2e
}

// get walks a decoded JSON value: get(m, "loc", "id"), get(m, "pix", 0, "valor").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// wantProblem checks a BCB-dialect error: status, media type, type and (when given) that a
// violation names prop.
func wantProblem(t *testing.T, r resp, status int, typ, prop string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	m := r.obj(t)
	wantType := "https://pix.bcb.gov.br/api/v2/error/" + typ
	if typ == "" {
		wantType = "about:blank"
	}
	if m["type"] != wantType || m["status"] != float64(status) || m["title"] == "" {
		t.Errorf("problem %v, want type %s status %d", m, wantType, status)
	}
	if prop != "" {
		found := false
		for _, v := range asSlice(m["violacoes"]) {
			if get(v, "propriedade") == prop {
				found = true
				if get(v, "razao") == "" {
					t.Errorf("violation without razao: %v", v)
				}
			}
		}
		if !found {
			t.Errorf("no violation on %s in %s", prop, r.body)
		}
	}
	return m
}

func asSlice(v any) []any { s, _ := v.([]any); return s }
