package ui

import (
	"net/http"
	"testing"
)

// The card routes: card-result (kiosk; refused unless payment.external_card) and the operator's
// TEF pending list and resolution (token only).
func TestTEFRoutes(t *testing.T) {
	f := newFixture(t)
	origin := "http://" + f.addr
	code, sess := f.do(t, req{method: "POST", path: "/api/v1/sessions", origin: origin,
		body: `{"items":[{"sku":"CONSULTA","name":"Consulta","unit_cents":15000,"qty":1}]}`})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, sess)
	}
	id := sess["id"].(string)
	for _, tc := range []struct {
		name string
		r    req
		want int
		code string
	}{
		{"card-result when the kiosk has a TEF manager",
			req{method: "POST", path: "/api/v1/sessions/" + id + "/card-result", origin: origin,
				body: `{"method":"credit","approved":true,"amount_cents":15000,"network":"X","nsu":"1","masked_pan":"4111111111111111"}`},
			http.StatusConflict, "payment.external_card_disabled"},
		{"card-result with an unknown field",
			req{method: "POST", path: "/api/v1/sessions/" + id + "/card-result", origin: origin, body: `{"pan":"4111111111111111"}`},
			http.StatusBadRequest, "api.bad_body"},
		{"pending without the token", req{method: "GET", path: "/api/v1/tef/pending", origin: origin}, http.StatusUnauthorized, "api.unauthorized"},
		{"pending", req{method: "GET", path: "/api/v1/tef/pending", token: testToken}, http.StatusOK, ""},
		{"resolve a bad attempt number", req{method: "POST", path: "/api/v1/tef/pending/" + id + "/x", token: testToken, body: `{"action":"undo"}`},
			http.StatusBadRequest, "api.bad_path"},
		{"resolve without an attempt", req{method: "POST", path: "/api/v1/tef/pending/" + id + "/1", token: testToken, body: `{"action":"undo"}`},
			http.StatusNotFound, "tef.attempt_not_found"},
		{"resolve without the token", req{method: "POST", path: "/api/v1/tef/pending/" + id + "/1", origin: origin, body: `{"action":"undo"}`},
			http.StatusUnauthorized, "api.unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.r)
			if code != tc.want || tc.code != "" && body["code"] != tc.code {
				t.Fatalf("%d %v, want %d %s", code, body, tc.want, tc.code)
			}
			if tc.want == http.StatusOK {
				if _, ok := body["pending"].([]any); !ok || body["recovered"] != true {
					t.Fatalf("pending body %v", body)
				}
			}
		})
	}
}
