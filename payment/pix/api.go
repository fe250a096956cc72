package pix

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

// Calendario is a charge's timing.
type Calendario struct {
	Criacao   time.Time `json:"criacao,omitzero"`
	Expiracao int       `json:"expiracao,omitempty"` // seconds from criacao
}

// Valor is a charge's amount.
type Valor struct {
	Original string `json:"original"`
}

// Loc is the location of a charge's payload.
type Loc struct {
	ID       int64     `json:"id"`
	Location string    `json:"location"`
	TipoCob  string    `json:"tipoCob"`
	Criacao  time.Time `json:"criacao,omitzero"`
}

// InfoAdicional is a name/value shown to the payer.
type InfoAdicional struct {
	Nome  string `json:"nome"`
	Valor string `json:"valor"`
}

// CobRequest is the body of PUT /cob/{txid} (CobSolicitada).
type CobRequest struct {
	Calendario         Calendario      `json:"calendario"`
	Valor              Valor           `json:"valor"`
	Chave              string          `json:"chave"`
	SolicitacaoPagador string          `json:"solicitacaoPagador,omitempty"`
	InfoAdicionais     []InfoAdicional `json:"infoAdicionais,omitempty"`
}

// Cob is a charge as the PSP answers it (CobGerada / CobCompleta).
type Cob struct {
	Calendario         Calendario      `json:"calendario"`
	TxID               string          `json:"txid"`
	Revisao            int             `json:"revisao"`
	Loc                *Loc            `json:"loc,omitempty"`
	Location           string          `json:"location,omitempty"`
	Status             string          `json:"status"`
	Valor              Valor           `json:"valor"`
	Chave              string          `json:"chave"`
	SolicitacaoPagador string          `json:"solicitacaoPagador,omitempty"`
	InfoAdicionais     []InfoAdicional `json:"infoAdicionais,omitempty"`
	PixCopiaECola      string          `json:"pixCopiaECola,omitempty"`
	Pix                []Pix           `json:"pix,omitempty"`
}

// Charge statuses.
const (
	StatusAtiva             = "ATIVA"
	StatusConcluida         = "CONCLUIDA"
	StatusRemovidaRecebedor = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
	StatusRemovidaPSP       = "REMOVIDA_PELO_PSP"
)

// Pix is a payment received.
type Pix struct {
	EndToEndID  string      `json:"endToEndId"`
	TxID        string      `json:"txid,omitempty"`
	Valor       string      `json:"valor"`
	Chave       string      `json:"chave,omitempty"`
	Horario     time.Time   `json:"horario"`
	InfoPagador string      `json:"infoPagador,omitempty"`
	Devolucoes  []Devolucao `json:"devolucoes,omitempty"`
}

// Devolucao is a refund of a payment.
type Devolucao struct {
	ID      string `json:"id"`
	RtrID   string `json:"rtrId"`
	Valor   string `json:"valor"`
	Horario struct {
		Solicitacao time.Time `json:"solicitacao,omitzero"`
		Liquidacao  time.Time `json:"liquidacao,omitzero"`
	} `json:"horario"`
	Status   string `json:"status"`
	Motivo   string `json:"motivo,omitempty"`
	Natureza string `json:"natureza,omitempty"`
}

// The statuses of a devolução (Devolucao.Status).
const (
	RefundProcessing = "EM_PROCESSAMENTO" // asked for, not settled yet: read it again
	RefundDone       = "DEVOLVIDO"        // the money went back
	RefundNotMade    = "NAO_REALIZADO"    // the PSP did not make it
)

// DevolucaoRequest is the body of PUT /pix/{e2eid}/devolucao/{id}.
type DevolucaoRequest struct {
	Valor     string `json:"valor"`
	Natureza  string `json:"natureza,omitempty"`
	Descricao string `json:"descricao,omitempty"`
}

// PixList is the answer of GET /pix.
type PixList struct {
	Parametros struct {
		Inicio    time.Time `json:"inicio"`
		Fim       time.Time `json:"fim"`
		Paginacao struct {
			PaginaAtual            int `json:"paginaAtual"`
			ItensPorPagina         int `json:"itensPorPagina"`
			QuantidadeDePaginas    int `json:"quantidadeDePaginas"`
			QuantidadeTotalDeItens int `json:"quantidadeTotalDeItens"`
		} `json:"paginacao"`
	} `json:"parametros"`
	Pix []Pix `json:"pix"`
}

// Webhook is a webhook configuration.
type Webhook struct {
	WebhookURL string    `json:"webhookUrl"`
	Chave      string    `json:"chave,omitempty"`
	Criacao    time.Time `json:"criacao,omitzero"`
}

// PutCob creates the immediate charge txid, or answers it again: PUT is idempotent on txid.
func (c *Client) PutCob(ctx context.Context, txid string, req CobRequest) (*Cob, error) {
	const op = "PUT /cob/{txid}"
	if err := firstErr(
		check(op, txidRe.MatchString(txid), "txid", "must match [a-zA-Z0-9]{26,35}"),
		check(op, positive(req.Valor.Original), "valor.original", `must be a positive amount like "12.34"`),
		check(op, req.Chave != "" && utf8.RuneCountInString(req.Chave) <= 77, "chave", "is required, at most 77 characters"),
		check(op, req.Calendario.Expiracao > 0, "calendario.expiracao", "must be a positive number of seconds"),
		check(op, utf8.RuneCountInString(req.SolicitacaoPagador) <= 140, "solicitacaoPagador", "is at most 140 characters"),
		check(op, len(req.InfoAdicionais) <= 50, "infoAdicionais", "has at most 50 items"),
	); err != nil {
		return nil, err
	}
	for i, ia := range req.InfoAdicionais {
		if err := check(op, ia.Nome != "" && utf8.RuneCountInString(ia.Nome) <= 50 && utf8.RuneCountInString(ia.Valor) <= 200,
			fmt.Sprintf("infoAdicionais[%d]", i), "needs nome (<= 50) and valor (<= 200)"); err != nil {
			return nil, err
		}
	}
	req.Calendario.Criacao = time.Time{}
	var out Cob
	return &out, c.call(ctx, http.MethodPut, "/cob/"+txid, op, req, &out)
}

// GetCob reads a charge and the payments made to it.
func (c *Client) GetCob(ctx context.Context, txid string) (*Cob, error) {
	const op = "GET /cob/{txid}"
	if err := check(op, txidRe.MatchString(txid), "txid", "must match [a-zA-Z0-9]{26,35}"); err != nil {
		return nil, err
	}
	var out Cob
	return &out, c.call(ctx, http.MethodGet, "/cob/"+txid, op, nil, &out)
}

// RemoveCob removes an active charge (PATCH status REMOVIDA_PELO_USUARIO_RECEBEDOR).
func (c *Client) RemoveCob(ctx context.Context, txid string) (*Cob, error) {
	const op = "PATCH /cob/{txid}"
	if err := check(op, txidRe.MatchString(txid), "txid", "must match [a-zA-Z0-9]{26,35}"); err != nil {
		return nil, err
	}
	var out Cob
	return &out, c.call(ctx, http.MethodPatch, "/cob/"+txid, op, map[string]string{"status": statusRm}, &out)
}

// ListPix lists payments received between inicio and fim (one page; page from 0).
func (c *Client) ListPix(ctx context.Context, inicio, fim time.Time, page, perPage int) (*PixList, error) {
	const op = "GET /pix"
	if err := check(op, !fim.Before(inicio), "fim", "must not be before inicio"); err != nil {
		return nil, err
	}
	// The API takes whole seconds: widen the window to them, never narrow it.
	from := inicio.UTC().Truncate(time.Second)
	to := fim.UTC()
	if t := to.Truncate(time.Second); !t.Equal(to) {
		to = t.Add(time.Second)
	}
	q := url.Values{"inicio": {from.Format(time.RFC3339)}, "fim": {to.Format(time.RFC3339)}}
	q.Set("paginacao.paginaAtual", strconv.Itoa(page))
	if perPage > 0 {
		q.Set("paginacao.itensPorPagina", strconv.Itoa(perPage))
	}
	var out PixList
	return &out, c.call(ctx, http.MethodGet, "/pix?"+q.Encode(), op, nil, &out)
}

// AllPix lists every payment received between inicio and fim, following the pages.
func (c *Client) AllPix(ctx context.Context, inicio, fim time.Time) ([]Pix, error) {
	var all []Pix
	for page := 0; ; page++ {
		l, err := c.ListPix(ctx, inicio, fim, page, 100)
		if err != nil {
			return nil, err
		}
		all = append(all, l.Pix...)
		pages := l.Parametros.Paginacao.QuantidadeDePaginas
		if len(l.Pix) == 0 || page > 1000 || (pages > 0 && page+1 >= pages) || (pages == 0 && len(l.Pix) < 100) {
			return all, nil // a PSP without paginacao: go on while pages come full
		}
	}
}

// GetPix reads one payment.
func (c *Client) GetPix(ctx context.Context, e2eid string) (*Pix, error) {
	const op = "GET /pix/{e2eid}"
	if err := check(op, e2eRe.MatchString(e2eid), "e2eid", "must be 32 letters and digits"); err != nil {
		return nil, err
	}
	var out Pix
	return &out, c.call(ctx, http.MethodGet, "/pix/"+e2eid, op, nil, &out)
}

// PutDevolucao asks for a refund of (part of) a payment; idempotent on id.
func (c *Client) PutDevolucao(ctx context.Context, e2eid, id string, req DevolucaoRequest) (*Devolucao, error) {
	const op = "PUT /pix/{e2eid}/devolucao/{id}"
	if err := firstErr(
		check(op, e2eRe.MatchString(e2eid), "e2eid", "must be 32 letters and digits"),
		check(op, devIDRe.MatchString(id), "id", "must match [a-zA-Z0-9]{1,35}"),
		check(op, positive(req.Valor), "valor", `must be a positive amount like "12.34"`),
		check(op, utf8.RuneCountInString(req.Descricao) <= 140, "descricao", "is at most 140 characters"),
	); err != nil {
		return nil, err
	}
	var out Devolucao
	return &out, c.call(ctx, http.MethodPut, "/pix/"+e2eid+"/devolucao/"+id, op, req, &out)
}

// GetDevolucao reads a refund.
func (c *Client) GetDevolucao(ctx context.Context, e2eid, id string) (*Devolucao, error) {
	const op = "GET /pix/{e2eid}/devolucao/{id}"
	if err := firstErr(
		check(op, e2eRe.MatchString(e2eid), "e2eid", "must be 32 letters and digits"),
		check(op, devIDRe.MatchString(id), "id", "must match [a-zA-Z0-9]{1,35}"),
	); err != nil {
		return nil, err
	}
	var out Devolucao
	return &out, c.call(ctx, http.MethodGet, "/pix/"+e2eid+"/devolucao/"+id, op, nil, &out)
}

// PutWebhook configures where the PSP notifies payments to the key (https only).
func (c *Client) PutWebhook(ctx context.Context, chave, webhookURL string) error {
	const op = "PUT /webhook/{chave}"
	u, err := url.Parse(webhookURL)
	if err := firstErr(
		check(op, chave != "" && len(chave) <= 77, "chave", "is required, at most 77 characters"),
		check(op, err == nil && u.Scheme == "https" && u.Host != "", "webhookUrl", "must be an https:// URL"),
	); err != nil {
		return err
	}
	return c.call(ctx, http.MethodPut, "/webhook/"+url.PathEscape(chave), op, Webhook{WebhookURL: webhookURL}, nil)
}

// GetWebhook reads the webhook of a key.
func (c *Client) GetWebhook(ctx context.Context, chave string) (*Webhook, error) {
	if err := check("GET /webhook/{chave}", chave != "" && len(chave) <= 77, "chave", "is required, at most 77 characters"); err != nil {
		return nil, err
	}
	var out Webhook
	return &out, c.call(ctx, http.MethodGet, "/webhook/"+url.PathEscape(chave), "GET /webhook/{chave}", nil, &out)
}

// DeleteWebhook removes the webhook of a key.
func (c *Client) DeleteWebhook(ctx context.Context, chave string) error {
	if err := check("DELETE /webhook/{chave}", chave != "" && len(chave) <= 77, "chave", "is required, at most 77 characters"); err != nil {
		return err
	}
	return c.call(ctx, http.MethodDelete, "/webhook/"+url.PathEscape(chave), "DELETE /webhook/{chave}", nil, nil)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
