package pixsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Ledger is what GET /_sim/ledger answers.
type Ledger struct {
	Charges []Charge `json:"charges"`
	Refunds []Refund `json:"refunds"`
}

// control serves the control API: the same mTLS as the API, no token, no faults.
//
//	POST /_sim/pay            {"txid","amount_cents"} -> {"e2eid"}   (amount_cents 0 or absent: the charge's amount)
//	POST /_sim/fault          a Fault as JSON, "delay" a Go duration ("250ms")
//	POST /_sim/expire-tokens
//	GET  /_sim/ledger         -> {"charges":[...],"refunds":[...]}
//
// Errors are {"error": "..."}: 400 bad body, 404 unknown charge or endpoint, 409 not payable.
func (s *Sim) control(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		writeJSON(w, status, "application/json", map[string]string{"error": msg})
	}
	want := func(method string) bool {
		if r.Method != method {
			w.Header().Set("Allow", method)
			fail(http.StatusMethodNotAllowed, "use "+method)
			return false
		}
		return true
	}
	decode := func(v any) bool {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err == nil {
			err = json.Unmarshal(body, v)
		}
		if err != nil {
			fail(http.StatusBadRequest, "body: "+err.Error())
			return false
		}
		return true
	}
	switch r.URL.Path {
	case "/_sim/pay":
		if !want(http.MethodPost) {
			return
		}
		var req struct {
			TxID        string `json:"txid"`
			AmountCents int64  `json:"amount_cents"`
		}
		if !decode(&req) {
			return
		}
		if req.AmountCents == 0 {
			if c, ok := s.Charge(req.TxID); ok {
				req.AmountCents = c.AmountCents
			}
		}
		e2eid, err := s.Pay(req.TxID, req.AmountCents)
		switch {
		case errors.Is(err, ErrNoCharge):
			fail(http.StatusNotFound, err.Error())
		case errors.Is(err, ErrNotPayable):
			fail(http.StatusConflict, err.Error())
		case err != nil:
			fail(http.StatusInternalServerError, err.Error())
		default:
			writeJSON(w, http.StatusOK, "application/json", map[string]string{"e2eid": e2eid})
		}
	case "/_sim/fault":
		if !want(http.MethodPost) {
			return
		}
		var req struct {
			Fault
			Delay string `json:"delay"`
		}
		if !decode(&req) {
			return
		}
		f := req.Fault
		if req.Delay != "" {
			d, err := time.ParseDuration(req.Delay)
			if err != nil || d < 0 {
				fail(http.StatusBadRequest, "delay: a Go duration such as \"1.5s\"")
				return
			}
			f.Delay = d
		}
		s.Fail(f)
		writeJSON(w, http.StatusOK, "application/json", struct{}{})
	case "/_sim/expire-tokens":
		if want(http.MethodPost) {
			s.ExpireTokens()
			writeJSON(w, http.StatusOK, "application/json", struct{}{})
		}
	case "/_sim/ledger":
		if want(http.MethodGet) {
			l := Ledger{Charges: s.Charges(), Refunds: s.Refunds()}
			if l.Refunds == nil {
				l.Refunds = []Refund{}
			}
			writeJSON(w, http.StatusOK, "application/json", l)
		}
	default:
		fail(http.StatusNotFound, "no such control endpoint")
	}
}
