package pixsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Error types of the API Pix ("https://pix.bcb.gov.br/api/v2/error/<TipoErro>").
const (
	errRequisicaoInvalida       = "RequisicaoInvalida"
	errAcessoNegado             = "AcessoNegado"
	errNaoEncontrado            = "NaoEncontrado"
	errErroInterno              = "ErroInternoDoServidor"
	errServicoIndisponivel      = "ServicoIndisponivel"
	errTempoEsgotado            = "IndisponibilidadePorTempoEsgotado"
	errCobNaoEncontrado         = "CobNaoEncontrado"
	errCobOperacaoInvalida      = "CobOperacaoInvalida"
	errCobConsultaInvalida      = "CobConsultaInvalida"
	errPixNaoEncontrado         = "PixNaoEncontrado"
	errDevolucaoNaoEncontrada   = "PixDevolucaoNaoEncontrada"
	errPixConsultaInvalida      = "PixConsultaInvalida"
	errDevolucaoInvalida        = "PixDevolucaoInvalida"
	errWebhookOperacaoInvalida  = "WebhookOperacaoInvalida"
	errWebhookNaoEncontrado     = "WebhookNaoEncontrado"
	errPayloadLocationNaoEncont = "PayloadLocationNaoEncontrado"
)

const errTypeBase = "https://pix.bcb.gov.br/api/v2/error/"

// errorInfo is how each error type reads: title and detail as the spec writes them, and the
// name the Efí dialect gives it.
var errorInfo = map[string]struct{ title, detail, efi string }{
	errRequisicaoInvalida:       {"Requisição inválida.", "Requisição inválida.", "requisicao_invalida"},
	errAcessoNegado:             {"Acesso Negado", "Requisição de participante autenticado que viola alguma regra de autorização.", "acesso_negado"},
	errNaoEncontrado:            {"Não Encontrado", "Entidade não encontrada.", "nao_encontrado"},
	errErroInterno:              {"Erro Interno do Servidor", "Condição inesperada ao processar requisição.", "erro_interno_servidor"},
	errServicoIndisponivel:      {"Serviço Indisponível", "Serviço não está disponível no momento. Serviço solicitado pode estar em manutenção ou fora da janela de funcionamento.", "servico_indisponivel"},
	errTempoEsgotado:            {"Indisponibilidade por Tempo Esgotado", "Indica que o serviço demorou além do esperado para retornar.", "tempo_esgotado"},
	errCobNaoEncontrado:         {"Cobrança não encontrada.", "Cobrança não encontrada para o txid informado.", "cobranca_nao_encontrada"},
	errCobOperacaoInvalida:      {"Cobrança inválida.", "A requisição que busca alterar ou criar uma cobrança para pagamento imediato não respeita o _schema_ ou está semanticamente errada.", "json_invalido"},
	errCobConsultaInvalida:      {"Consulta inválida.", "Os parâmetros de consulta à lista de cobranças para pagamento imediato não respeitam o _schema_ ou não fazem sentido semanticamente.", "parametros_invalidos"},
	errPixNaoEncontrado:         {"Pix não encontrado.", "Pix não encontrado para o e2eid informado.", "pix_nao_encontrado"},
	errDevolucaoNaoEncontrada:   {"Devolução não encontrada.", "Devolução representada por {id} não encontrada para o e2eid informado.", "devolucao_nao_encontrada"},
	errPixConsultaInvalida:      {"Consulta inválida.", "Os parâmetros de consulta à lista de pix recebidos não respeitam o schema ou não fazem sentido semanticamente.", "parametros_invalidos"},
	errDevolucaoInvalida:        {"Devolução inválida.", "A presente requisição de devolução não respeita o _schema_ ou não faz sentido semanticamente.", "json_invalido"},
	errWebhookOperacaoInvalida:  {"Webhook inválido.", "A presente requisição busca criar um webhook sem respeitar o _schema_ ou, ainda, com sentido semanticamente inválido.", "webhook_invalido"},
	errWebhookNaoEncontrado:     {"Webhook não encontrado.", "O webhook denotado por {chave} não encontra-se estabelecido.", "webhook_nao_encontrado"},
	errPayloadLocationNaoEncont: {"Location não encontrada.", "Location não encontrada para o id informado.", "location_nao_encontrada"},
}

// statusTypes gives the general error type for a status a fault answers with.
var statusTypes = map[int]string{
	400: errRequisicaoInvalida, 403: errAcessoNegado, 404: errNaoEncontrado, 500: errErroInterno,
	503: errServicoIndisponivel, 504: errTempoEsgotado,
}

// apiError is an error answer, written per dialect.
type apiError struct {
	status int
	typ    string // an API Pix error type; "" writes RFC 7807's "about:blank"
	detail string // "" = the type's
	efi    string // Efí "nome"; "" = the type's
	viol   []violacao
	header map[string]string
}

func newErr(status int, typ string, viol ...violacao) *apiError {
	return &apiError{status: status, typ: typ, viol: viol}
}

func (e *apiError) withDetail(d string) *apiError { e.detail = d; return e }
func (e *apiError) withEfi(n string) *apiError    { e.efi = n; return e }

// problem is RFC 7807 as the API Pix profiles it (the Problema schema).
type problem struct {
	Type          string     `json:"type"`
	Title         string     `json:"title"`
	Status        int        `json:"status"`
	Detail        string     `json:"detail,omitempty"`
	CorrelationID string     `json:"correlationId,omitempty"`
	Violacoes     []violacao `json:"violacoes,omitempty"`
}

// efiError is the Efí error shape.
type efiError struct {
	Nome     string `json:"nome"`
	Mensagem string `json:"mensagem"`
}

func (s *Sim) writeError(w http.ResponseWriter, e *apiError) {
	info, known := errorInfo[e.typ]
	title, detail, efi := info.title, info.detail, info.efi
	typ := errTypeBase + e.typ
	if !known {
		typ, title = "about:blank", http.StatusText(e.status)
		detail = title
		efi = strings.ReplaceAll(strings.ToLower(title), " ", "_")
	}
	if e.detail != "" {
		detail = e.detail
	}
	if e.efi != "" {
		efi = e.efi
	}
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	if s.o.Dialect == "efi" {
		msg := detail
		if len(e.viol) > 0 {
			var parts []string
			for _, v := range e.viol {
				parts = append(parts, v.Razao)
			}
			msg = strings.Join(parts, " ")
		}
		writeJSON(w, e.status, "application/json", efiError{Nome: efi, Mensagem: msg})
		return
	}
	writeJSON(w, e.status, "application/problem+json", problem{Type: typ, Title: title, Status: e.status,
		Detail: detail, CorrelationID: randHex(8), Violacoes: e.viol})
}

// writeJSON writes v with the given media type; HTML characters are not escaped (the texts go
// to people and to BR Codes as they are).
func writeJSON(w http.ResponseWriter, status int, mediaType string, v any) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":"encoding"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// oauthError answers the token endpoint the RFC 6749 way ({"error","error_description"}); the
// Efí dialect adds its {"nome","mensagem"}.
func (s *Sim) oauthError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code, "error_description": desc}
	if s.o.Dialect == "efi" {
		body["nome"], body["mensagem"] = code, desc
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="pixsim"`)
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, "application/json", body)
}
