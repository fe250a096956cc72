package pixsim

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/totemd/totemd/payment/pix"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// scopes are the OAuth2 scopes of the API Pix security scheme.
var scopes = []string{
	"cob.write", "cob.read", "cobr.write", "cobr.read", "rec.write", "rec.read", "solicrec.write", "solicrec.read",
	"cobv.write", "cobv.read", "lotecobv.write", "lotecobv.read", "pix.write", "pix.read",
	"webhook.read", "webhook.write", "webhookrec.read", "webhookrec.write", "webhookcobr.read", "webhookcobr.write",
	"payloadlocation.write", "payloadlocation.read", "payloadlocationrec.write", "payloadlocationrec.read",
}

type token struct {
	expires time.Time
	scopes  map[string]bool // nil: the token asked for none and may do everything
}

// ServeHTTP serves the API and the control API. Faults apply to the API only.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.log.Debug("pixsim: request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"took", time.Since(start).Round(time.Microsecond))
	}()

	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.control(sw, r)
		return
	}
	apiPath := stripPrefix(r.URL.EscapedPath())
	f := s.takeFault(r.Method, r.URL.Path, apiPath)
	if f == nil {
		s.api(sw, r, apiPath)
		return
	}
	s.log.Info("pixsim: fault", "method", r.Method, "path", r.URL.Path, "status", f.Status, "delay", f.Delay,
		"after_handling", f.AfterHandling)
	if !f.AfterHandling {
		s.sleep(r.Context(), f.Delay)
		if f.Status != 0 {
			s.faultAnswer(sw, f)
			return
		}
		s.api(sw, r, apiPath)
		return
	}
	rec := &recorder{header: http.Header{}}
	s.api(rec, r, apiPath)
	s.sleep(r.Context(), f.Delay)
	if f.Status != 0 {
		s.faultAnswer(sw, f)
		return
	}
	rec.replay(sw)
}

// sleep waits d; if the client goes away or the simulator closes first, the answer is lost:
// the connection is dropped.
func (s *Sim) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		panic(http.ErrAbortHandler)
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}

func (s *Sim) faultAnswer(w http.ResponseWriter, f *Fault) {
	e := newErr(f.Status, statusTypes[f.Status])
	if f.RetryAfter > 0 {
		e.header = map[string]string{"Retry-After": strconv.Itoa(f.RetryAfter)}
	}
	s.writeError(w, e)
}

// stripPrefix takes the /v2 or /api/v2 prefix off a path: the API is the same under both.
func stripPrefix(p string) string {
	for _, pre := range []string{"/api/v2", "/v2"} {
		if rest, ok := strings.CutPrefix(p, pre); ok && (rest == "" || rest[0] == '/') {
			if rest == "" {
				rest = "/"
			}
			return rest
		}
	}
	return p
}

// api routes an API call (escapedPath without the /v2 prefixes).
func (s *Sim) api(w http.ResponseWriter, r *http.Request, escapedPath string) {
	var segs []string
	for _, e := range strings.Split(strings.Trim(escapedPath, "/"), "/") {
		v, err := url.PathUnescape(e)
		if err != nil {
			s.writeError(w, newErr(http.StatusNotFound, errNaoEncontrado))
			return
		}
		segs = append(segs, v)
	}
	route := func(methods ...string) bool {
		if slices.Contains(methods, r.Method) {
			return true
		}
		e := newErr(http.StatusMethodNotAllowed, "")
		e.header = map[string]string{"Allow": strings.Join(methods, ", ")}
		s.writeError(w, e)
		return false
	}
	n := len(segs)
	switch {
	case n == 2 && segs[0] == "oauth" && segs[1] == "token":
		if route(http.MethodPost) {
			s.tokenEndpoint(w, r)
		}
	case n == 2 && segs[0] == "cob":
		if !route(http.MethodPut, http.MethodGet, http.MethodPatch) {
			return
		}
		switch r.Method {
		case http.MethodPut:
			if s.authorize(w, r, "cob.write") {
				s.putCob(w, r, segs[1])
			}
		case http.MethodPatch:
			if s.authorize(w, r, "cob.write") {
				s.patchCob(w, r, segs[1])
			}
		default:
			if s.authorize(w, r, "cob.read") {
				s.getCob(w, r, segs[1])
			}
		}
	case n == 1 && segs[0] == "pix":
		if route(http.MethodGet) && s.authorize(w, r, "pix.read") {
			s.listPix(w, r)
		}
	case n == 2 && segs[0] == "pix":
		if route(http.MethodGet) && s.authorize(w, r, "pix.read") {
			s.getPix(w, segs[1])
		}
	case n == 4 && segs[0] == "pix" && segs[2] == "devolucao":
		if !route(http.MethodPut, http.MethodGet) {
			return
		}
		if r.Method == http.MethodPut {
			if s.authorize(w, r, "pix.write") {
				s.putRefund(w, r, segs[1], segs[3])
			}
		} else if s.authorize(w, r, "pix.read") {
			s.getRefund(w, segs[1], segs[3])
		}
	case n == 2 && segs[0] == "webhook":
		if !route(http.MethodPut, http.MethodGet, http.MethodDelete) {
			return
		}
		scope := "webhook.write"
		if r.Method == http.MethodGet {
			scope = "webhook.read"
		}
		if s.authorize(w, r, scope) {
			s.webhook(w, r, segs[1])
		}
	case n == 3 && segs[0] == "loc" && segs[2] == "qrcode":
		if route(http.MethodGet) && s.authorize(w, r, "payloadlocation.read") {
			s.qrcode(w, segs[1])
		}
	default:
		s.writeError(w, newErr(http.StatusNotFound, errNaoEncontrado))
	}
}

// ---- OAuth2 ----

func (s *Sim) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		s.oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication (HTTP Basic) is required")
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.o.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.o.ClientSecret)) != 1 {
		s.oauthError(w, http.StatusUnauthorized, "invalid_client", "invalid client credentials")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable body")
		return
	}
	var grant, scope string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || (mt == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))):
		var req struct {
			GrantType string `json:"grant_type"`
			Scope     string `json:"scope"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			s.oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a JSON object")
			return
		}
		grant, scope = req.GrantType, req.Scope
	case mt == "application/x-www-form-urlencoded" || mt == "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			s.oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
			return
		}
		grant, scope = form.Get("grant_type"), form.Get("scope")
	default:
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "send application/x-www-form-urlencoded or application/json")
		return
	}
	switch grant {
	case "client_credentials":
	case "":
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		s.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	var granted map[string]bool
	asked := strings.Fields(scope)
	if len(asked) > 0 {
		granted = map[string]bool{}
		for _, sc := range asked {
			if !slices.Contains(scopes, sc) {
				s.oauthError(w, http.StatusBadRequest, "invalid_scope", "unknown scope "+sc)
				return
			}
			granted[sc] = true
		}
	} else {
		asked = slices.Clone(scopes)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	s.mu.Lock()
	now := s.now()
	for k, t := range s.tokens {
		if !now.Before(t.expires) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = token{expires: now.Add(s.o.TokenTTL), scopes: granted}
	s.mu.Unlock()
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(s.o.TokenTTL / time.Second),
		"scope":        strings.Join(asked, " "),
	})
}

// authorize checks the bearer token (401 when missing, unknown or expired) and its scope (403).
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request, scope string) bool {
	h := r.Header.Get("Authorization")
	var tok string
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		tok = strings.TrimSpace(h[7:])
	}
	s.mu.Lock()
	t, found := s.tokens[tok]
	live := found && s.now().Before(t.expires)
	s.mu.Unlock()
	if !live {
		e := newErr(http.StatusUnauthorized, "").withDetail("Token de acesso ausente, inválido ou expirado.").withEfi("nao_autorizado")
		e.header = map[string]string{"WWW-Authenticate": `Bearer realm="pixsim"`}
		if tok != "" {
			e.header["WWW-Authenticate"] = `Bearer realm="pixsim", error="invalid_token"`
		}
		s.writeError(w, e)
		return false
	}
	if t.scopes != nil && !t.scopes[scope] {
		s.writeError(w, newErr(http.StatusForbidden, errAcessoNegado).withDetail("O token não tem o escopo "+scope+"."))
		return false
	}
	return true
}

// readObject reads a JSON object body; on failure it answers 400 with errType and a violation
// on prop.
func (s *Sim) readObject(w http.ResponseWriter, r *http.Request, errType, prop string) (map[string]any, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.writeError(w, newErr(http.StatusBadRequest, errType, violacao{Razao: "Corpo ilegível ou grande demais.", Propriedade: prop}))
		return nil, false
	}
	m, err := decodeObject(body)
	if err != nil {
		s.writeError(w, newErr(http.StatusBadRequest, errType, violacao{Razao: err.Error(), Propriedade: prop}))
		return nil, false
	}
	return m, true
}

// ---- cob ----

func (s *Sim) putCob(w http.ResponseWriter, r *http.Request, txid string) {
	m, ok := s.readObject(w, r, errCobOperacaoInvalida, "cob")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.led.byTxID[txid]
	if c != nil {
		c.Puts++
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
	}
	if !ok {
		return
	}
	var viol []violacao
	if !txidRe.MatchString(txid) {
		viol = append(viol, violacao{Razao: "O campo cob.txid não respeita o schema ([a-zA-Z0-9]{26,35}).", Propriedade: "cob.txid", Valor: txid})
	}
	in, v := parseCob(m, false, s.o.PixKey)
	if viol = append(viol, v...); len(viol) > 0 {
		s.writeError(w, newErr(http.StatusBadRequest, errCobOperacaoInvalida, viol...))
		return
	}
	req := in.fields()
	if c != nil {
		if !c.Cob.sameRequest(req) {
			razao := "O txid já é usado por outra cobrança, com outros dados: crie a cobrança com outro txid."
			if c.Cob.Status != statusAtiva {
				razao = "A cobrança já existe, não está no status ATIVA, e a presente requisição busca alterá-la."
			}
			s.writeError(w, newErr(http.StatusBadRequest, errCobOperacaoInvalida,
				violacao{Razao: razao, Propriedade: "cob.txid", Valor: txid}).withEfi("txid_duplicado"))
			return
		}
		s.log.Info("pixsim: repeated PUT /cob", "txid", txid, "puts", c.Puts)
		writeJSON(w, http.StatusCreated, "application/json", s.renderCob(c, c.Revision, false))
		return
	}

	now := s.now()
	c = &charge{TxID: txid, Created: now, LocID: s.led.NextLoc, LocCreated: now, Cob: req, Puts: 1}
	c.Location = s.newLocation()
	if err := s.setBRCode(&c.Cob, c.Location); err != nil {
		s.internal(w, err)
		return
	}
	s.led.NextLoc++
	s.led.Charges = append(s.led.Charges, c)
	s.led.byTxID[txid] = c
	s.led.byLoc[c.LocID] = c
	if err := s.led.save(); err != nil {
		s.internal(w, err)
		return
	}
	s.log.Info("pixsim: charge created", "txid", txid, "amount", fmtCents(req.AmountCents), "expiracao", req.Expiracao)
	writeJSON(w, http.StatusCreated, "application/json", s.renderCob(c, c.Revision, false))
}

// newLocation makes a payload location: host:port/qr/v2/<32 hex>, without the scheme, at most
// 77 characters.
func (s *Sim) newLocation() string {
	id := randHex(16)
	loc := s.host + "/qr/v2/" + id
	if over := len(loc) - 77; over > 0 && over < 16 {
		loc = loc[:len(loc)-over]
	}
	return loc
}

func (s *Sim) setBRCode(f *cobFields, location string) error {
	code, err := pix.EncodeDynamic(pix.Dynamic{Location: location, MerchantName: s.o.MerchantName,
		MerchantCity: s.o.MerchantCity, AmountCents: f.AmountCents})
	if err != nil {
		return fmt.Errorf("pixsim: building the BR Code: %w", err)
	}
	f.PixCopiaECola = code
	return nil
}

func (s *Sim) internal(w http.ResponseWriter, err error) {
	s.log.Error("pixsim: internal error", "err", err)
	s.writeError(w, newErr(http.StatusInternalServerError, errErroInterno))
}

func (s *Sim) getCob(w http.ResponseWriter, r *http.Request, txid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.led.byTxID[txid]
	if c == nil {
		s.writeError(w, newErr(http.StatusNotFound, errCobNaoEncontrado))
		return
	}
	rev := c.Revision
	if q := r.URL.Query(); q.Has("revisao") {
		n, err := strconv.Atoi(q.Get("revisao"))
		if err != nil || n < 0 || n > c.Revision {
			s.writeError(w, newErr(http.StatusBadRequest, errCobConsultaInvalida, violacao{
				Razao:       "O parâmetro revisao corresponde a uma revisão inexistente para a cobrança apontada pelo parâmetro txid.",
				Propriedade: "revisao", Valor: q.Get("revisao")}))
			return
		}
		rev = n
	}
	if s.settleCharge(c) {
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, "application/json", s.renderCob(c, rev, true))
}

// settleCharge settles the refunds in processing of every Pix of c (a read shows them done).
func (s *Sim) settleCharge(c *charge) bool {
	changed := false
	now := s.now()
	for _, p := range c.Payments {
		changed = p.settle(now) || changed
	}
	return changed
}

func (s *Sim) patchCob(w http.ResponseWriter, r *http.Request, txid string) {
	m, ok := s.readObject(w, r, errCobOperacaoInvalida, "cob")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.led.byTxID[txid]
	if c == nil {
		s.writeError(w, newErr(http.StatusNotFound, errCobNaoEncontrado))
		return
	}
	in, viol := parseCob(m, true, s.o.PixKey)
	if len(viol) > 0 {
		s.writeError(w, newErr(http.StatusBadRequest, errCobOperacaoInvalida, viol...))
		return
	}
	next := c.Cob
	next.InfoAdicionais = slices.Clone(next.InfoAdicionais)
	in.apply(&next)
	unchanged := next.sameRequest(c.Cob) && next.Status == c.Cob.Status
	if unchanged {
		// Nothing to revise (an empty body, or removing a charge already removed): the
		// charge as it is, with no new revision.
		writeJSON(w, http.StatusOK, "application/json", s.renderCob(c, c.Revision, false))
		return
	}
	if c.Cob.Status != statusAtiva {
		s.writeError(w, newErr(http.StatusBadRequest, errCobOperacaoInvalida, violacao{
			Razao:       "A cobrança não está ATIVA, e a presente requisição busca alterá-la.",
			Propriedade: "cob.status", Valor: c.Cob.Status}).withEfi("cobranca_nao_ativa"))
		return
	}
	if next.AmountCents != c.Cob.AmountCents {
		if err := s.setBRCode(&next, c.Location); err != nil {
			s.internal(w, err)
			return
		}
	}
	c.History = append(c.History, c.Cob)
	c.Cob = next
	c.Revision++
	if err := s.led.save(); err != nil {
		s.internal(w, err)
		return
	}
	s.log.Info("pixsim: charge revised", "txid", txid, "revisao", c.Revision, "status", c.Cob.Status)
	writeJSON(w, http.StatusOK, "application/json", s.renderCob(c, c.Revision, false))
}

// ---- rendering ----

type cobJSON struct {
	Calendario         calendarioJSON  `json:"calendario"`
	TxID               string          `json:"txid"`
	Revisao            int             `json:"revisao"`
	Loc                locJSON         `json:"loc"`
	Location           string          `json:"location"`
	Status             string          `json:"status"`
	Devedor            *devedor        `json:"devedor,omitempty"`
	Valor              valorJSON       `json:"valor"`
	Chave              string          `json:"chave"`
	SolicitacaoPagador string          `json:"solicitacaoPagador,omitempty"`
	InfoAdicionais     []infoAdicional `json:"infoAdicionais,omitempty"`
	PixCopiaECola      string          `json:"pixCopiaECola"`
	Pix                []pixJSON       `json:"pix,omitempty"`
}

type calendarioJSON struct {
	Criacao   string `json:"criacao"`
	Expiracao int    `json:"expiracao"`
}

type locJSON struct {
	ID       int64  `json:"id"`
	Location string `json:"location"`
	TipoCob  string `json:"tipoCob"`
	Criacao  string `json:"criacao"`
	TxID     string `json:"txid"`
}

type valorJSON struct {
	Original            string `json:"original"`
	ModalidadeAlteracao int    `json:"modalidadeAlteracao"`
}

type pixJSON struct {
	EndToEndID       string          `json:"endToEndId"`
	TxID             string          `json:"txid,omitempty"`
	Valor            string          `json:"valor"`
	ComponentesValor *componentes    `json:"componentesValor,omitempty"`
	Chave            string          `json:"chave,omitempty"`
	Horario          string          `json:"horario"`
	Devolucoes       []devolucaoJSON `json:"devolucoes,omitempty"`
}

type componentes struct {
	Original struct {
		Valor string `json:"valor"`
	} `json:"original"`
}

type devolucaoJSON struct {
	ID        string         `json:"id"`
	RtrID     string         `json:"rtrId"`
	Valor     string         `json:"valor"`
	Natureza  string         `json:"natureza"`
	Descricao string         `json:"descricao,omitempty"`
	Horario   horarioDevJSON `json:"horario"`
	Status    string         `json:"status"`
	Motivo    string         `json:"motivo,omitempty"`
}

type horarioDevJSON struct {
	Solicitacao string `json:"solicitacao"`
	Liquidacao  string `json:"liquidacao,omitempty"`
}

// renderCob writes revision rev of c (a CobGerada; with its Pix, a CobCompleta).
func (s *Sim) renderCob(c *charge, rev int, withPix bool) cobJSON {
	f := c.Cob
	if rev < c.Revision {
		f = c.History[rev]
	}
	out := cobJSON{
		Calendario:         calendarioJSON{Criacao: fmtTime(c.Created), Expiracao: f.Expiracao},
		TxID:               c.TxID,
		Revisao:            rev,
		Loc:                locJSON{ID: c.LocID, Location: c.Location, TipoCob: "cob", Criacao: fmtTime(c.LocCreated), TxID: c.TxID},
		Location:           c.Location,
		Status:             f.Status,
		Devedor:            f.Devedor,
		Valor:              valorJSON{Original: fmtCents(f.AmountCents), ModalidadeAlteracao: f.Modalidade},
		Chave:              f.Chave,
		SolicitacaoPagador: f.Solicitacao,
		InfoAdicionais:     f.InfoAdicionais,
		PixCopiaECola:      f.PixCopiaECola,
	}
	if withPix && rev == c.Revision {
		for _, p := range c.Payments {
			out.Pix = append(out.Pix, s.renderPix(p))
		}
	}
	return out
}

func (s *Sim) renderPix(p *payment) pixJSON {
	out := pixJSON{EndToEndID: p.E2EID, TxID: p.TxID, Valor: fmtCents(p.AmountCents), Horario: fmtTime(p.Time),
		ComponentesValor: &componentes{}}
	out.ComponentesValor.Original.Valor = out.Valor
	if c := s.led.byTxID[p.TxID]; c != nil {
		out.Chave = c.Cob.Chave
	}
	for _, r := range p.Refunds {
		out.Devolucoes = append(out.Devolucoes, renderRefund(r))
	}
	return out
}

func renderRefund(r *refund) devolucaoJSON {
	out := devolucaoJSON{ID: r.ID, RtrID: r.RtrID, Valor: fmtCents(r.AmountCents), Natureza: "ORIGINAL",
		Descricao: r.Descricao, Horario: horarioDevJSON{Solicitacao: fmtTime(r.Requested)}, Status: r.Status, Motivo: r.Motivo}
	if r.Natureza != "" {
		out.Natureza = r.Natureza
	}
	if !r.Settled.IsZero() {
		out.Horario.Liquidacao = fmtTime(r.Settled)
	}
	return out
}

// ---- pix ----

type pixList struct {
	Parametros pixParams `json:"parametros"`
	Pix        []pixJSON `json:"pix"`
}

type pixParams struct {
	Inicio            string    `json:"inicio"`
	Fim               string    `json:"fim"`
	TxID              string    `json:"txid,omitempty"`
	TxIDPresente      *bool     `json:"txIdPresente,omitempty"`
	DevolucaoPresente *bool     `json:"devolucaoPresente,omitempty"`
	Paginacao         paginacao `json:"paginacao"`
}

type paginacao struct {
	PaginaAtual            int `json:"paginaAtual"`
	ItensPorPagina         int `json:"itensPorPagina"`
	QuantidadeDePaginas    int `json:"quantidadeDePaginas"`
	QuantidadeTotalDeItens int `json:"quantidadeTotalDeItens"`
}

func (s *Sim) listPix(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var c checker
	when := func(name string) time.Time {
		v := q.Get(name)
		if !q.Has(name) {
			c.add(name, "O parâmetro "+name+" é obrigatório.", nil)
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			c.add(name, "O parâmetro "+name+" não respeita o schema (RFC 3339).", v)
		}
		return t
	}
	inicio, fim := when("inicio"), when("fim")
	if c.ok() && fim.Before(inicio) {
		c.add("fim", "O timestamp representado pelo parâmetro fim é anterior ao timestamp representado pelo parâmetro inicio.", q.Get("fim"))
	}
	txid := q.Get("txid")
	if q.Has("txid") && !refundIDRe.MatchString(txid) {
		c.add("txid", "O parâmetro txid não respeita o schema.", txid)
	}
	boolean := func(name string) *bool {
		if !q.Has(name) {
			return nil
		}
		b, err := strconv.ParseBool(q.Get(name))
		if err != nil {
			c.add(name, "O parâmetro "+name+" deve ser true ou false.", q.Get(name))
			return nil
		}
		return &b
	}
	txPresent, devPresent := boolean("txIdPresente"), boolean("devolucaoPresente")
	if q.Get("cpf") != "" && q.Get("cnpj") != "" {
		c.add("cpf", "Os parâmetros cpf e cnpj não podem estar preenchidos ao mesmo tempo.", nil)
	}
	integer := func(name string, def, lo, hi int) int {
		if !q.Has(name) {
			return def
		}
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < lo || n > hi {
			c.add(name, fmt.Sprintf("O parâmetro %s deve ser um inteiro entre %d e %d.", name, lo, hi), q.Get(name))
			return def
		}
		return n
	}
	page := integer("paginacao.paginaAtual", 0, 0, 1<<30)
	per := integer("paginacao.itensPorPagina", 100, 1, 1000)
	if !c.ok() {
		s.writeError(w, newErr(http.StatusBadRequest, errPixConsultaInvalida, c.v...))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*payment
	for _, ch := range s.led.Charges {
		for _, p := range ch.Payments {
			switch {
			case p.Time.Before(inicio) || p.Time.After(fim):
			case txid != "" && p.TxID != txid:
			case txPresent != nil && *txPresent != (p.TxID != ""):
			case devPresent != nil && *devPresent != (len(p.Refunds) > 0):
			default:
				found = append(found, p)
			}
		}
	}
	slices.SortStableFunc(found, func(a, b *payment) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.E2EID, b.E2EID)
	})
	pages := max(1, (len(found)+per-1)/per)
	from := min(page*per, len(found))
	to := min(from+per, len(found))
	out := pixList{
		Parametros: pixParams{Inicio: q.Get("inicio"), Fim: q.Get("fim"), TxID: txid, TxIDPresente: txPresent,
			DevolucaoPresente: devPresent, Paginacao: paginacao{PaginaAtual: page, ItensPorPagina: per,
				QuantidadeDePaginas: pages, QuantidadeTotalDeItens: len(found)}},
		Pix: []pixJSON{},
	}
	changed := false
	now := s.now()
	for _, p := range found[from:to] {
		changed = p.settle(now) || changed
		out.Pix = append(out.Pix, s.renderPix(p))
	}
	if changed {
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, "application/json", out)
}

func (s *Sim) getPix(w http.ResponseWriter, e2eid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.led.byE2E[e2eid]
	if p == nil {
		s.writeError(w, newErr(http.StatusNotFound, errPixNaoEncontrado))
		return
	}
	if p.settle(s.now()) {
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, "application/json", s.renderPix(p))
}

// refundWindow is how long after the Pix a refund may be asked for.
const refundWindow = 90 * 24 * time.Hour

func (s *Sim) putRefund(w http.ResponseWriter, r *http.Request, e2eid, id string) {
	m, ok := s.readObject(w, r, errDevolucaoInvalida, "devolucao")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.led.byE2E[e2eid]
	if p == nil {
		s.writeError(w, newErr(http.StatusNotFound, errPixNaoEncontrado))
		return
	}
	var viol []violacao
	if !refundIDRe.MatchString(id) {
		viol = append(viol, violacao{Razao: "O parâmetro id não respeita o schema ([a-zA-Z0-9]{1,35}).", Propriedade: "id", Valor: id})
	}
	in, v := parseRefund(m)
	if viol = append(viol, v...); len(viol) > 0 {
		s.writeError(w, newErr(http.StatusBadRequest, errDevolucaoInvalida, viol...))
		return
	}
	natureza := cmp.Or(in.Natureza, "ORIGINAL")
	if old := p.findRefund(id); old != nil {
		if old.AmountCents == in.AmountCents && cmp.Or(old.Natureza, "ORIGINAL") == natureza && old.Descricao == in.Descricao {
			writeJSON(w, http.StatusCreated, "application/json", renderRefund(old))
			return
		}
		s.writeError(w, newErr(http.StatusBadRequest, errDevolucaoInvalida, violacao{
			Razao:       "A presente requisição de devolução apresenta um {id} já utilizado por outra requisição de devolução para o {e2eid} em questão.",
			Propriedade: "id", Valor: id}).withEfi("id_devolucao_duplicado"))
		return
	}
	now := s.now()
	if now.Sub(p.Time) > refundWindow {
		s.writeError(w, newErr(http.StatusBadRequest, errDevolucaoInvalida, violacao{
			Razao:       "A presente requisição de devolução viola a janela de tempo permitida (90 dias desde a liquidação do pix).",
			Propriedade: "e2eid", Valor: e2eid}).withEfi("prazo_devolucao_expirado"))
		return
	}
	if left := p.AmountCents - p.refunded(); in.AmountCents > left {
		s.writeError(w, newErr(http.StatusBadRequest, errDevolucaoInvalida, violacao{
			Razao: fmt.Sprintf("A presente requisição de devolução, em conjunto com as demais prévias devoluções, excederia o valor do pix originário (resta %s para devolver).",
				fmtCents(left)),
			Propriedade: "devolucao.valor", Valor: fmtCents(in.AmountCents)}).withEfi("valor_devolucao_atingido"))
		return
	}
	rf := &refund{ID: id, RtrID: newRtrID(now), AmountCents: in.AmountCents, Natureza: in.Natureza,
		Descricao: in.Descricao, Status: refundPending, Requested: now, Fail: s.failRefunds > 0}
	if rf.Fail {
		s.failRefunds--
	}
	p.Refunds = append(p.Refunds, rf)
	if err := s.led.save(); err != nil {
		s.internal(w, err)
		return
	}
	s.log.Info("pixsim: refund", "e2eid", e2eid, "id", id, "amount", fmtCents(in.AmountCents))
	writeJSON(w, http.StatusCreated, "application/json", renderRefund(rf))
}

func (s *Sim) getRefund(w http.ResponseWriter, e2eid, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.led.byE2E[e2eid]
	var rf *refund
	if p != nil {
		rf = p.findRefund(id)
	}
	if rf == nil {
		s.writeError(w, newErr(http.StatusNotFound, errDevolucaoNaoEncontrada))
		return
	}
	if rf.settle(s.now()) {
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, "application/json", renderRefund(rf))
}

// ---- webhook ----

// receiverCNPJ is the receiver's CNPJ the WebhookCompleto schema requires (a valid, made-up one).
const receiverCNPJ = "11222333000181"

type webhookJSON struct {
	WebhookURL string `json:"webhookUrl"`
	Chave      string `json:"chave"`
	CNPJ       string `json:"cnpj"`
	Criacao    string `json:"criacao"`
}

func (s *Sim) webhook(w http.ResponseWriter, r *http.Request, chave string) {
	var u string
	if r.Method == http.MethodPut {
		m, ok := s.readObject(w, r, errWebhookOperacaoInvalida, "webhook")
		if !ok {
			return
		}
		var viol []violacao
		if chave != s.o.PixKey {
			viol = append(viol, violacao{Razao: "O parâmetro {chave} não corresponde a uma chave DICT pertencente a este usuário recebedor.",
				Propriedade: "chave", Valor: chave})
		}
		var v []violacao
		u, v = parseWebhook(m)
		if viol = append(viol, v...); len(viol) > 0 {
			s.writeError(w, newErr(http.StatusBadRequest, errWebhookOperacaoInvalida, viol...))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wh := s.led.Webhooks[chave]
	switch r.Method {
	case http.MethodPut:
		wh = &webhook{URL: u, Created: s.now()}
		s.led.Webhooks[chave] = wh
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
	case http.MethodDelete:
		if wh == nil {
			s.writeError(w, newErr(http.StatusNotFound, errWebhookNaoEncontrado))
			return
		}
		delete(s.led.Webhooks, chave)
		if err := s.led.save(); err != nil {
			s.internal(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		if wh == nil {
			s.writeError(w, newErr(http.StatusNotFound, errWebhookNaoEncontrado))
			return
		}
	}
	writeJSON(w, http.StatusOK, "application/json", webhookJSON{WebhookURL: wh.URL, Chave: chave, CNPJ: receiverCNPJ, Criacao: fmtTime(wh.Created)})
}

// ---- Efí's QR code ----

func (s *Sim) qrcode(w http.ResponseWriter, id string) {
	n, err := strconv.ParseInt(id, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.led.byLoc[n]
	if err != nil || c == nil {
		s.writeError(w, newErr(http.StatusNotFound, errPayloadLocationNaoEncont))
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"qrcode": c.Cob.PixCopiaECola, "imagemQrcode": ""})
}

// ---- plumbing ----

// statusWriter remembers the status, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// recorder holds an answer for a fault that delays or replaces it after handling.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) replay(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(cmp.Or(r.status, http.StatusOK))
	w.Write(r.body.Bytes())
}
