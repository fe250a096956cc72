package pixsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/totemd/totemd/internal/atomicfile"
)

const ledgerFile = "ledger.json"

// Charge statuses (CobrancaStatus) and refund statuses.
const (
	statusAtiva     = "ATIVA"
	statusConcluida = "CONCLUIDA"
	statusRemovida  = "REMOVIDA_PELO_USUARIO_RECEBEDOR"

	refundPending = "EM_PROCESSAMENTO"
	refundDone    = "DEVOLVIDO"
	refundFailed  = "NAO_REALIZADO"
)

// ISPBs in the identifiers the simulator makes: the payer's PSP (in e2eids) and the
// receiver's (in rtrIds). Arbitrary, 8 digits as the format demands.
const (
	payerISPB    = "99999001"
	receiverISPB = "99999002"
)

// maxCents is the largest amount `\d{1,10}\.\d{2}` can write.
const maxCents = 9_999_999_999_99

// ledger is the simulator's whole state, as written to ledger.json.
type ledger struct {
	Version  int                 `json:"version"`
	NextLoc  int64               `json:"next_loc"`
	Charges  []*charge           `json:"charges"`
	Webhooks map[string]*webhook `json:"webhooks,omitempty"`

	path   string
	byTxID map[string]*charge
	byE2E  map[string]*payment
	byLoc  map[int64]*charge
}

type charge struct {
	TxID       string      `json:"txid"`
	Created    time.Time   `json:"created"`
	LocID      int64       `json:"loc_id"`
	Location   string      `json:"location"`
	LocCreated time.Time   `json:"loc_created"`
	Revision   int         `json:"revision"`
	Cob        cobFields   `json:"cob"`               // the current revision
	History    []cobFields `json:"history,omitempty"` // History[i] is revision i, for i < Revision
	Puts       int         `json:"puts"`
	Payments   []*payment  `json:"payments,omitempty"`
}

// cobFields is what a revision of a charge holds.
type cobFields struct {
	Status         string          `json:"status"`
	AmountCents    int64           `json:"amount_cents"`
	Modalidade     int             `json:"modalidade_alteracao,omitempty"`
	Expiracao      int             `json:"expiracao"`
	Chave          string          `json:"chave"`
	Solicitacao    string          `json:"solicitacao_pagador,omitempty"`
	Devedor        *devedor        `json:"devedor,omitempty"`
	InfoAdicionais []infoAdicional `json:"info_adicionais,omitempty"`
	PixCopiaECola  string          `json:"pix_copia_e_cola"`
}

type devedor struct {
	CPF  string `json:"cpf,omitempty"`
	CNPJ string `json:"cnpj,omitempty"`
	Nome string `json:"nome"`
}

type infoAdicional struct {
	Nome  string `json:"nome"`
	Valor string `json:"valor"`
}

type payment struct {
	E2EID       string    `json:"e2eid"`
	TxID        string    `json:"txid"`
	AmountCents int64     `json:"amount_cents"`
	Time        time.Time `json:"time"`
	Refunds     []*refund `json:"refunds,omitempty"`
}

type refund struct {
	ID          string    `json:"id"`
	RtrID       string    `json:"rtr_id"`
	AmountCents int64     `json:"amount_cents"`
	Natureza    string    `json:"natureza,omitempty"`
	Descricao   string    `json:"descricao,omitempty"`
	Status      string    `json:"status"`
	Motivo      string    `json:"motivo,omitempty"`
	Requested   time.Time `json:"requested"`
	Settled     time.Time `json:"settled,omitzero"`
	Fail        bool      `json:"fail,omitempty"` // settles as NAO_REALIZADO (Sim.FailRefunds)
}

type webhook struct {
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
}

// sameRequest reports whether two charge bodies ask for the same thing (status and the BR
// Code are the PSP's, not the request's).
func (a cobFields) sameRequest(b cobFields) bool {
	if a.AmountCents != b.AmountCents || a.Modalidade != b.Modalidade || a.Expiracao != b.Expiracao ||
		a.Chave != b.Chave || a.Solicitacao != b.Solicitacao || len(a.InfoAdicionais) != len(b.InfoAdicionais) {
		return false
	}
	if (a.Devedor == nil) != (b.Devedor == nil) || (a.Devedor != nil && *a.Devedor != *b.Devedor) {
		return false
	}
	for i := range a.InfoAdicionais {
		if a.InfoAdicionais[i] != b.InfoAdicionais[i] {
			return false
		}
	}
	return true
}

func (c *charge) expiresAt() time.Time {
	return c.Created.Add(time.Duration(c.Cob.Expiracao) * time.Second)
}

func (c *charge) export() Charge {
	out := Charge{TxID: c.TxID, AmountCents: c.Cob.AmountCents, Status: c.Cob.Status, Created: c.Created,
		Expiry: time.Duration(c.Cob.Expiracao) * time.Second, Revision: c.Revision, Location: c.Location,
		PixCopiaECola: c.Cob.PixCopiaECola, Puts: c.Puts}
	for _, p := range c.Payments {
		out.Payments = append(out.Payments, Payment{E2EID: p.E2EID, AmountCents: p.AmountCents, Time: p.Time, TxID: p.TxID})
	}
	return out
}

func (p *payment) refunded() int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.Status != refundFailed {
			n += r.AmountCents
		}
	}
	return n
}

func (p *payment) findRefund(id string) *refund {
	for _, r := range p.Refunds {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// settle moves the payment's refunds in processing to DEVOLVIDO: a refund is EM_PROCESSAMENTO
// in the answer to its PUT and DEVOLVIDO from the next read on. It reports a change.
func (p *payment) settle(now time.Time) bool {
	changed := false
	for _, r := range p.Refunds {
		changed = r.settle(now) || changed
	}
	return changed
}

// settle ends a refund in processing: DEVOLVIDO, or NAO_REALIZADO when it was made to fail.
func (r *refund) settle(now time.Time) bool {
	switch {
	case r.Status != refundPending:
		return false
	case r.Fail:
		r.Status, r.Motivo = refundFailed, "Devolução não realizada: conta do pagador encerrada (simulado)."
	default:
		r.Status, r.Settled = refundDone, now
	}
	return true
}

func loadLedger(dir string) (*ledger, error) {
	l := &ledger{Version: 1, NextLoc: 1}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("pixsim: state directory: %w", err)
		}
		l.path = filepath.Join(dir, ledgerFile)
		found, err := atomicfile.ReadJSON(l.path, l)
		if err != nil {
			return nil, fmt.Errorf("pixsim: the ledger: %w", err)
		}
		if found && l.Version != 1 {
			return nil, fmt.Errorf("pixsim: %s: unknown ledger version %d", l.path, l.Version)
		}
	}
	l.byTxID = map[string]*charge{}
	l.byE2E = map[string]*payment{}
	l.byLoc = map[int64]*charge{}
	if l.Webhooks == nil {
		l.Webhooks = map[string]*webhook{}
	}
	for _, c := range l.Charges {
		l.byTxID[c.TxID] = c
		l.byLoc[c.LocID] = c
		for _, p := range c.Payments {
			l.byE2E[p.E2EID] = p
		}
		if c.LocID >= l.NextLoc {
			l.NextLoc = c.LocID + 1
		}
	}
	return l, nil
}

// save writes the ledger (atomically) when the simulator has a state directory.
func (l *ledger) save() error {
	if l.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("pixsim: encoding the ledger: %w", err)
	}
	if err := atomicfile.Write(l.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("pixsim: writing the ledger: %w", err)
	}
	return nil
}

// newE2E makes an EndToEndId: "E", the payer's ISPB, yyyyMMddHHmm (UTC), 11 alphanumerics.
func (l *ledger) newE2E(now time.Time) string {
	for {
		id := "E" + payerISPB + now.UTC().Format("200601021504") + randAlnum(11)
		if l.byE2E[id] == nil {
			return id
		}
	}
}

// newRtrID makes a ReturnIdentification: "D", the receiver's ISPB, yyyyMMddHHmm, 11 alphanumerics.
func newRtrID(now time.Time) string {
	return "D" + receiverISPB + now.UTC().Format("200601021504") + randAlnum(11)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randAlnum(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func randHex(nBytes int) string {
	b := make([]byte, nBytes)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tsLayout is how the API writes timestamps: RFC 3339, UTC, milliseconds (as the spec's
// examples: "2020-09-09T20:15:00.358Z").
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(tsLayout) }

func fmtCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

var moneyRe = regexp.MustCompile(`^\d{1,10}\.\d{2}$`)

// parseMoney reads a `\d{1,10}\.\d{2}` amount.
func parseMoney(s string) (int64, bool) {
	if !moneyRe.MatchString(s) {
		return 0, false
	}
	reais, err1 := strconv.ParseInt(s[:len(s)-3], 10, 64)
	cents, err2 := strconv.ParseInt(s[len(s)-2:], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return reais*100 + cents, true
}
