package ui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/paymenttest"
	"github.com/totemd/totemd/sync/journal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef"

type fixture struct {
	srv     *Server
	store   *journal.Store
	svc     *payment.Service
	pix     *paymenttest.Pix
	printer *paymenttest.Printer
	addr    string
	port    string
}

// newFixture runs a real Server on a loopback port with a real journal and the fakes.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	store, err := journal.Open(journal.Options{Path: filepath.Join(t.TempDir(), "j.db"), KioskID: "test-kiosk", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := payment.DefaultConfig()
	cfg.PixPoll = 200 * time.Millisecond
	f := &fixture{store: store, pix: paymenttest.NewPix(nil), printer: paymenttest.NewPrinter()}
	f.svc, err = payment.New(payment.Options{Config: cfg, Store: store, Logger: slog.New(slog.DiscardHandler), Pix: f.pix, Card: paymenttest.NewCard(), Printer: f.printer,
		Catalog: payment.Catalog{{SKU: "CONSULTA", Name: "Consulta", PriceCents: 15000, Prefix: "A"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Start(); err != nil {
		t.Fatal(err)
	}
	f.srv = New(Options{Config: Config{Listen: "127.0.0.1:0"}, Service: f.svc, Store: store,
		Health: device.NewHealth(nil), Token: testToken, Version: "test", Demo: fakeDemo{f},
		Logger: slog.New(slog.DiscardHandler)})
	ln, err := f.srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	_, f.port, _ = net.SplitHostPort(f.addr)
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		f.svc.Close()
		store.Close()
	})
	return f
}

type fakeDemo struct{ f *fixture }

func (d fakeDemo) PixPay(_ context.Context, txid string) error {
	if !d.f.pix.Pay(txid, d.f.pix.Amount(txid)) {
		return payment.Errf(payment.KindNotFound, "pix.charge_not_found", "no such charge")
	}
	return nil
}
func (d fakeDemo) SetPaperOut(out bool) { d.f.printer.PaperOut(out) }
func (d fakeDemo) Printed() [][]byte    { return nil }

type req struct {
	method, path, body string
	host, origin       string
	token, fetchSite   string
}

func (f *fixture) do(t testing.TB, r req) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, "http://"+f.addr+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	if r.origin != "" {
		hr.Header.Set("Origin", r.origin)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.fetchSite != "" {
		hr.Header.Set("Sec-Fetch-Site", r.fetchSite)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func TestGuard(t *testing.T) {
	f := newFixture(t)
	own := "http://127.0.0.1:" + f.port
	create := `{"items":[{"sku":"CONSULTA","name":"Consulta","unit_cents":15000,"qty":1}]}`
	cases := []struct {
		name string
		r    req
		code int
		err  string
	}{
		{"healthz is public", req{method: "GET", path: "/healthz"}, 200, ""},
		{"localhost host allowed", req{method: "GET", path: "/healthz", host: "localhost:" + f.port}, 200, ""},
		{"foreign host (DNS rebinding)", req{method: "GET", path: "/healthz", host: "evil.example:" + f.port}, 403, "api.host_forbidden"},
		{"host on another port", req{method: "GET", path: "/healthz", host: "127.0.0.1:1"}, 403, "api.host_forbidden"},
		{"foreign origin on public route", req{method: "GET", path: "/healthz", origin: "http://evil.example"}, 403, "api.origin_forbidden"},
		{"foreign origin with token", req{method: "POST", path: "/api/v1/sessions", body: create, origin: "http://evil.example", token: testToken}, 403, "api.origin_forbidden"},
		{"origin prefix is not enough", req{method: "POST", path: "/api/v1/sessions", body: create, origin: own + ".evil.example"}, 403, "api.origin_forbidden"},
		{"no credentials", req{method: "POST", path: "/api/v1/sessions", body: create}, 401, "api.unauthorized"},
		{"wrong token", req{method: "POST", path: "/api/v1/sessions", body: create, token: strings.Repeat("x", 48)}, 401, "api.unauthorized"},
		{"kiosk page origin creates", req{method: "POST", path: "/api/v1/sessions", body: create, origin: own}, 201, ""},
		{"same-origin fetch reads status", req{method: "GET", path: "/api/v1/status", fetchSite: "same-origin"}, 200, ""},
		{"cross-site fetch refused", req{method: "GET", path: "/api/v1/status", fetchSite: "cross-site"}, 401, "api.unauthorized"},
		{"token creates", req{method: "POST", path: "/api/v1/sessions", body: create, token: testToken}, 201, ""},
		{"operator route needs the token", req{method: "GET", path: "/api/v1/sessions", origin: own}, 401, "api.unauthorized"},
		{"operator route with token", req{method: "GET", path: "/api/v1/sessions", token: testToken}, 200, ""},
		{"events with token", req{method: "GET", path: "/api/v1/events?after=0", token: testToken}, 200, ""},
		{"unknown api route", req{method: "GET", path: "/api/v1/nope", token: testToken}, 404, "api.not_found"},
		{"ui files", req{method: "GET", path: "/"}, 200, ""},
		{"ui is GET only", req{method: "POST", path: "/index.html", body: "{}"}, 405, "api.method_not_allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.do(t, c.r)
			if code != c.code {
				t.Fatalf("status %d, want %d (%v)", code, c.code, body)
			}
			if c.err != "" && body["code"] != c.err {
				t.Fatalf("code %v, want %s (%v)", body["code"], c.err, body)
			}
			if c.err != "" && body["message"] == "" {
				t.Fatalf("error without a message: %v", body)
			}
		})
	}
}

func TestREST(t *testing.T) {
	f := newFixture(t)
	tok := testToken
	cases := []struct {
		name       string
		r          req
		code       int
		errCode    string
		wantFields []string
	}{
		{"bad json", req{method: "POST", path: "/api/v1/sessions", body: `{"items":[`, token: tok}, 400, "api.bad_body", nil},
		{"unknown field", req{method: "POST", path: "/api/v1/sessions", body: `{"itens":[]}`, token: tok}, 400, "api.bad_body", nil},
		{"wrong type", req{method: "POST", path: "/api/v1/sessions", body: `{"items":[{"sku":"CONSULTA","unit_cents":"150"}]}`, token: tok}, 400, "api.bad_body", nil},
		{"two values", req{method: "POST", path: "/api/v1/sessions", body: `{"items":[]} {}`, token: tok}, 400, "api.bad_body", nil},
		{"no items", req{method: "POST", path: "/api/v1/sessions", body: `{"items":[]}`, token: tok}, 400, "session.invalid_items", nil},
		{"price mismatch", req{method: "POST", path: "/api/v1/sessions", body: `{"items":[{"sku":"CONSULTA","name":"C","unit_cents":100,"qty":1}]}`, token: tok}, 400, "session.price_mismatch", nil},
		{"created", req{method: "POST", path: "/api/v1/sessions", body: `{"items":[{"sku":"CONSULTA","name":"Consulta","unit_cents":15000,"qty":2}]}`, token: tok}, 201, "", []string{"id", "state", "total_cents"}},
		{"missing session", req{method: "GET", path: "/api/v1/sessions/01M83K07F9FZP42D3M8WK1QM68", token: tok}, 404, "session.not_found", nil},
		{"garbage id", req{method: "GET", path: "/api/v1/sessions/..%2F..%2Fetc", token: tok}, 404, "session.not_found", nil},
		{"bad limit", req{method: "GET", path: "/api/v1/sessions?limit=0", token: tok}, 400, "api.bad_query", nil},
		{"bad after", req{method: "GET", path: "/api/v1/events?after=x", token: tok}, 400, "api.bad_query", nil},
		{"status", req{method: "GET", path: "/api/v1/status", token: tok}, 200, "", []string{"kiosk_id", "methods", "health", "catalog", "last_seq"}},
		{"catalog", req{method: "GET", path: "/api/v1/catalog", token: tok}, 200, "", nil},
		{"demo pay of unknown charge", req{method: "POST", path: "/api/v1/demo/pix/NOPE/pay", body: "{}", token: tok}, 404, "pix.charge_not_found", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.do(t, c.r)
			if code != c.code {
				t.Fatalf("status %d, want %d (%v)", code, c.code, body)
			}
			if c.errCode != "" && body["code"] != c.errCode {
				t.Fatalf("code %v, want %s (%v)", body["code"], c.errCode, body)
			}
			for _, k := range c.wantFields {
				if _, ok := body[k]; !ok {
					t.Errorf("answer lacks %q: %v", k, body)
				}
			}
		})
	}

	// The pay flow through REST: paper out refuses, nothing charged; refilled, Pix goes through.
	_, s := f.do(t, req{method: "POST", path: "/api/v1/sessions", token: tok, body: `{"items":[{"sku":"CONSULTA","name":"Consulta","unit_cents":15000,"qty":1}]}`})
	id := s["id"].(string)
	f.printer.PaperOut(true)
	code, body := f.do(t, req{method: "POST", path: "/api/v1/sessions/" + id + "/pay", token: tok, body: `{"method":"pix"}`})
	if code != 503 || body["code"] != "printer.paper_out" {
		t.Fatalf("pay with paper out: %d %v", code, body)
	}
	if len(f.pix.Creates) != 0 {
		t.Fatalf("a charge was created with no paper: %v", f.pix.Creates)
	}
	f.printer.PaperOut(false)
	code, body = f.do(t, req{method: "POST", path: "/api/v1/sessions/" + id + "/pay", token: tok, body: `{"method":"bitcoin"}`})
	if code != 400 || body["code"] != "payment.invalid_method" {
		t.Fatalf("pay bitcoin: %d %v", code, body)
	}
	code, body = f.do(t, req{method: "POST", path: "/api/v1/sessions/" + id + "/pay", token: tok, body: `{"method":"pix"}`})
	if code != 202 || body["state"] != "paying" {
		t.Fatalf("pay: %d %v", code, body)
	}
	code, body = f.do(t, req{method: "POST", path: "/api/v1/sessions/" + id + "/pay", token: tok, body: `{"method":"pix"}`})
	if code != 409 || body["code"] != "session.not_open" {
		t.Fatalf("second pay: %d %v", code, body)
	}
	code, body = f.do(t, req{method: "POST", path: "/api/v1/sessions/" + id + "/cancel", token: tok, body: `{}`})
	if code != 200 || body["state"] != "cancelled" {
		t.Fatalf("cancel: %d %v", code, body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.do(t, req{method: "GET", path: "/healthz"})
	hr, _ := http.NewRequest("GET", "http://"+f.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`totemd_build_info{version="test",kiosk_id="test-kiosk"} 1`,
		"# TYPE totemd_journal_last_seq gauge",
		`totemd_http_requests_total{route="GET /healthz",code="200"} 1`,
		"totemd_ws_clients 0",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("metrics lack %q:\n%s", want, data)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Listen: "127.0.0.1:8787"}, ""},
		{Config{Listen: "[::1]:8787"}, ""},
		{Config{Listen: "localhost:0"}, ""},
		{Config{Listen: "0.0.0.0:8787"}, "not a loopback address"},
		{Config{Listen: "192.168.0.10:8787"}, "not a loopback address"},
		{Config{Listen: "8787"}, "not host:port"},
		{Config{Listen: "127.0.0.1:http"}, "no valid port"},
		{Config{Listen: "127.0.0.1:8787", AllowedOrigins: []string{"http://kiosk.local/app"}}, "allowed_origins[0]"},
		{Config{Listen: "127.0.0.1:8787", AllowedHosts: []string{"http://kiosk.local"}}, "allowed_hosts[0]"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", TokenFile)
	a, err := LoadOrCreateToken(path)
	if err != nil || len(a) != 64 {
		t.Fatalf("token %q, %v", a, err)
	}
	b, err := LoadOrCreateToken(path)
	if err != nil || b != a {
		t.Fatalf("second load %q, %v; want the same token", b, err)
	}
	if got, _ := ReadToken(path); got != a {
		t.Fatalf("ReadToken = %q", got)
	}
	assertMode(t, path, 0o600)
}
