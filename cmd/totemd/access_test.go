package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestHostAndOriginChecks checks the DNS-rebinding (Host) and cross-site (Origin) guards and
// who may call kiosk and operator routes, over REST and the WebSocket upgrade.
func TestHostAndOriginChecks(t *testing.T) {
	t.Parallel()
	d := startDemo(t, filepath.Join(t.TempDir(), "state"))
	port := d.addr[strings.LastIndex(d.addr, ":")+1:]
	self := "http://127.0.0.1:" + port

	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tok := d.bearer()
	jsonTok := with(tok, "Content-Type", "application/json")
	expect := func(name string, wantStatus int, wantCode, method, path, body string, hdr map[string]string) []byte {
		t.Helper()
		code, b := d.request(method, path, body, hdr)
		var e struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(b, &e)
		if code != wantStatus || (wantCode != "" && e.Code != wantCode) {
			t.Errorf("%s: %s %s = %d %s; want %d %s", name, method, path, code, strings.TrimSpace(string(b)), wantStatus, wantCode)
		}
		return b
	}

	// Host: exact allowlist, even with the token, even for public routes.
	evilHost := "evil.example:" + port
	expect("rebinding host, public route", 403, "api.host_forbidden", "GET", "/healthz", "", map[string]string{"Host": evilHost})
	expect("rebinding host, with token", 403, "api.host_forbidden", "POST", "/api/v1/sessions", consultaJSON, with(jsonTok, "Host", evilHost))
	expect("rebinding host, kiosk UI", 403, "api.host_forbidden", "GET", "/", "", map[string]string{"Host": evilHost})
	expect("host without port", 403, "api.host_forbidden", "GET", "/healthz", "", map[string]string{"Host": "127.0.0.1"})
	expect("host with another port", 403, "api.host_forbidden", "GET", "/healthz", "", map[string]string{"Host": "127.0.0.1:1"})
	expect("localhost host", 200, "", "GET", "/healthz", "", map[string]string{"Host": "localhost:" + port})

	// Origin: exact allowlist, checked before the token.
	evil := "http://evil.example"
	expect("evil origin with token", 403, "api.origin_forbidden", "POST", "/api/v1/sessions", consultaJSON, with(jsonTok, "Origin", evil))
	expect("evil origin, public route", 403, "api.origin_forbidden", "GET", "/healthz", "", map[string]string{"Origin": evil})
	expect("null origin", 403, "api.origin_forbidden", "POST", "/api/v1/sessions", consultaJSON, map[string]string{"Origin": "null", "Content-Type": "application/json"})
	expect("own host on another port", 403, "api.origin_forbidden", "POST", "/api/v1/sessions", consultaJSON,
		map[string]string{"Origin": "http://127.0.0.1:1", "Content-Type": "application/json"})
	expect("https variant of the own origin", 403, "api.origin_forbidden", "POST", "/api/v1/sessions", consultaJSON,
		map[string]string{"Origin": "https://127.0.0.1:" + port, "Content-Type": "application/json"})

	// The kiosk page (allowed Origin, no token) runs the customer flow but no operator route.
	kiosk := map[string]string{"Origin": self, "Content-Type": "application/json"}
	b := expect("kiosk page creates a session", 201, "", "POST", "/api/v1/sessions", consultaJSON, kiosk)
	s := sessionOf(b)
	if s == nil {
		t.Fatalf("no session in %s", b)
	}
	expect("kiosk page reads its session", 200, "", "GET", "/api/v1/sessions/"+s.ID, "", map[string]string{"Origin": self})
	expect("localhost origin", 200, "", "GET", "/api/v1/status", "", map[string]string{"Origin": "http://localhost:" + port})
	expect("kiosk page lists sessions", 401, "api.unauthorized", "GET", "/api/v1/sessions", "", map[string]string{"Origin": self})
	expect("kiosk page reads the event log", 401, "api.unauthorized", "GET", "/api/v1/events?after=0", "", map[string]string{"Origin": self})
	// A same-origin GET without Origin (Sec-Fetch-Site) is the kiosk too, still not an operator.
	expect("same-origin fetch reads a session", 200, "", "GET", "/api/v1/sessions/"+s.ID, "", map[string]string{"Sec-Fetch-Site": "same-origin"})
	expect("same-origin fetch lists sessions", 401, "api.unauthorized", "GET", "/api/v1/sessions", "", map[string]string{"Sec-Fetch-Site": "same-origin"})
	expect("cross-site navigation", 401, "api.unauthorized", "GET", "/api/v1/sessions/"+s.ID, "", map[string]string{"Sec-Fetch-Site": "cross-site"})

	// Neither token nor Origin: only public routes.
	expect("no credentials, create", 401, "api.unauthorized", "POST", "/api/v1/sessions", consultaJSON, map[string]string{"Content-Type": "application/json"})
	expect("no credentials, list", 401, "api.unauthorized", "GET", "/api/v1/sessions", "", nil)
	expect("no credentials, healthz", 200, "", "GET", "/healthz", "", nil)
	expect("wrong token", 401, "api.unauthorized", "GET", "/api/v1/sessions", "", map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 64)})
	expect("token as basic auth", 401, "api.unauthorized", "GET", "/api/v1/sessions", "", map[string]string{"Authorization": "Basic " + d.token})
	expect("token holder lists sessions", 200, "", "GET", "/api/v1/sessions", "", tok)

	// The WebSocket upgrade goes through the same guard.
	wsURL := "ws://" + d.addr + "/ws"
	dial := func(name string, want int, h http.Header) {
		t.Helper()
		c, resp, err := websocket.DefaultDialer.DialContext(ctxT(t), wsURL, h)
		if c != nil {
			c.Close()
		}
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		if got != want {
			t.Errorf("websocket %s: HTTP %d (%v); want %d", name, got, err, want)
		}
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	dial("evil origin", 403, hdr("Origin", evil))
	dial("evil origin with token", 403, hdr("Origin", evil, "Authorization", "Bearer "+d.token))
	dial("rebinding host", 403, hdr("Host", evilHost, "Origin", "http://"+evilHost))
	dial("no credentials", 401, hdr())
	dial("kiosk origin", 101, hdr("Origin", self))
	dial("token", 101, hdr("Authorization", "Bearer "+d.token))

	// The kiosk page's WebSocket speaks the protocol.
	ws, err := d.c.Dial(ctxT(t), self)
	if err != nil {
		t.Fatalf("kiosk websocket: %v", err)
	}
	defer ws.Close()
	m, err := ws.Hello(ctxT(t), 0)
	if err != nil || m.LastSeq == nil || *m.LastSeq < 1 {
		t.Fatalf("kiosk hello: %+v %v", m, err)
	}
	if err := ws.Send(map[string]any{"type": "status", "id": "st"}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := ws.Next(ctxT(t))
		if err != nil {
			t.Fatalf("waiting for the status reply: %v", err)
		}
		if m.Type == "reply" && m.ID == "st" {
			if m.OK == nil || !*m.OK || !strings.Contains(string(m.Data), `"demo":true`) {
				t.Errorf("status reply: %s", fmt.Sprint(string(m.Data)))
			}
			break
		}
	}
}
