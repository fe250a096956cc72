package payment

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/totemd/totemd/payment/pix"
)

// PixPSP is the PixProvider of a real PSP (or pixsim), built on the BCB API client.
type PixPSP struct {
	Client       *pix.Client
	Key          string // the receiving Pix key: every charge must carry it
	MerchantName string // for building a BR Code when the PSP returns none
	MerchantCity string
	// OnResult, when set, is told the outcome of every call (nil or the mapped error): the
	// daemon keeps the pix.unreachable health condition with it.
	OnResult func(error)
}

func (p *PixPSP) done(err error) error {
	err = pixErr(err)
	if p.OnResult != nil {
		p.OnResult(err)
	}
	return err
}

// NewPixPSP wires a client with its config.
func NewPixPSP(c *pix.Client, cfg pix.Config) *PixPSP {
	return &PixPSP{Client: c, Key: cfg.PixKey, MerchantName: cfg.MerchantName, MerchantCity: cfg.MerchantCity}
}

// CreateCharge implements PixProvider with PUT /cob/{txid}. The Service sends the same body for
// the same attempt (payment.pix_expiry, the ticket), so a retry after a crash addresses the same
// charge.
func (p *PixPSP) CreateCharge(ctx context.Context, req PixChargeRequest) (PixCharge, error) {
	expiry := req.Expiry
	if expiry < time.Second {
		return PixCharge{}, Errf(KindInvalid, "pix.invalid_request", "Expiração da cobrança ausente.")
	}
	body := pix.CobRequest{
		Calendario:         pix.Calendario{Expiracao: int(expiry / time.Second)},
		Valor:              pix.Valor{Original: req.Amount.Decimal()},
		Chave:              p.Key,
		SolicitacaoPagador: req.Description,
	}
	cob, err := p.Client.PutCob(ctx, req.TxID, body)
	var pe *pix.Error
	if errors.As(err, &pe) && (pe.Status == 400 || pe.Status == 409) {
		// Some PSPs refuse a second PUT of a txid instead of answering it again: the charge
		// exists. Read it; it is ours if amount and key match.
		if got, gerr := p.Client.GetCob(ctx, req.TxID); gerr == nil && got.Status == pix.StatusAtiva {
			cob, err = got, nil
		}
	}
	if err != nil {
		return PixCharge{}, p.done(err)
	}
	p.done(nil)
	if err := p.sameCharge(cob, req.TxID, req.Amount); err != nil {
		return PixCharge{}, err
	}
	location := cob.Location
	if location == "" && cob.Loc != nil {
		location = cob.Loc.Location
	}
	brcode := cob.PixCopiaECola
	if brcode == "" {
		// PIX.md: without pixCopiaECola, build the dynamic code from the location.
		if brcode, err = pix.EncodeDynamic(pix.Dynamic{Location: location, MerchantName: p.MerchantName, MerchantCity: p.MerchantCity}); err != nil {
			return PixCharge{}, &Error{Code: "pix.psp_invalid", Kind: KindUnavailable, Err: err,
				Message: "O PSP respondeu uma cobrança sem BR Code utilizável."}
		}
	}
	exp := time.Duration(cob.Calendario.Expiracao) * time.Second
	if exp <= 0 {
		exp = expiry
	}
	return PixCharge{TxID: cob.TxID, BRCode: brcode, Location: location, CreatedAt: cob.Calendario.Criacao, Expiry: exp}, nil
}

// sameCharge refuses an answer that is not the charge we asked for.
func (p *PixPSP) sameCharge(cob *pix.Cob, txid string, amount Money) error {
	switch {
	case cob.TxID != txid:
		return Errf(KindUnavailable, "pix.psp_mismatch", "O PSP respondeu a cobrança %q em vez de %q.", cob.TxID, txid)
	case cob.Valor.Original != amount.Decimal():
		return Errf(KindUnavailable, "pix.psp_mismatch", "O PSP registrou a cobrança %s com valor %s em vez de %s.", txid, cob.Valor.Original, amount.Decimal())
	case cob.Chave != p.Key:
		return Errf(KindUnavailable, "pix.psp_mismatch", "A cobrança %s está na chave %q, não na chave deste totem.", txid, cob.Chave)
	}
	return nil
}

// ChargeStatus implements PixProvider with GET /cob/{txid}.
func (p *PixPSP) ChargeStatus(ctx context.Context, txid string) (PixStatus, error) {
	cob, err := p.Client.GetCob(ctx, txid)
	if err := p.done(err); err != nil {
		return PixStatus{}, err
	}
	if cob.Chave != p.Key {
		return PixStatus{}, Errf(KindUnavailable, "pix.psp_mismatch", "A cobrança %s está na chave %q, não na chave deste totem.", txid, cob.Chave)
	}
	st := PixStatus{State: PixChargeState(cob.Status)}
	for _, px := range cob.Pix {
		if px.TxID != "" && px.TxID != txid {
			continue
		}
		cents, err := pix.ParseValor(px.Valor)
		if err != nil {
			return PixStatus{}, &Error{Code: "pix.psp_invalid", Kind: KindUnavailable, Err: err, Message: "O PSP respondeu um pagamento com valor ilegível."}
		}
		st.Payments = append(st.Payments, PixPayment{E2EID: px.EndToEndID, Amount: Money(cents), Time: px.Horario})
	}
	if st.State == PixConcluded && len(st.Payments) == 0 {
		return PixStatus{}, Errf(KindUnavailable, "pix.psp_invalid", "O PSP diz que a cobrança %s foi paga mas não mostra o pagamento.", txid)
	}
	return st, nil
}

// CancelCharge implements PixProvider with PATCH /cob/{txid}.
func (p *PixPSP) CancelCharge(ctx context.Context, txid string) error {
	_, err := p.Client.RemoveCob(ctx, txid)
	return p.done(err)
}

// Refund implements PixProvider with PUT /pix/{e2eid}/devolucao/{id}.
func (p *PixPSP) Refund(ctx context.Context, e2eid, refundID string, amount Money) error {
	// PUT is idempotent on refundID: asked again, it answers the devolução already made.
	d, err := p.Client.PutDevolucao(ctx, e2eid, refundID, pix.DevolucaoRequest{Valor: amount.Decimal(), Descricao: "Devolucao automatica totemd"})
	if err := p.done(err); err != nil {
		return err
	}
	if d.Status == pix.RefundProcessing {
		// The answer to a PUT is usually "in processing": read it again for the outcome.
		if d, err = p.Client.GetDevolucao(ctx, e2eid, refundID); p.done(err) != nil {
			return p.done(err)
		}
	}
	switch d.Status {
	case pix.RefundDone:
		return nil
	case pix.RefundNotMade:
		return &Error{Code: "pix.refund_failed", Kind: KindUnavailable, Err: ErrRefundNotMade,
			Message: fmt.Sprintf("O PSP não realizou a devolução %s: %s", refundID, d.Motivo)}
	}
	return &Error{Code: "pix.refund_processing", Kind: KindUnavailable, Err: ErrRefundProcessing,
		Message: fmt.Sprintf("Devolução %s em processamento no PSP (%s).", refundID, d.Status)}
}

// pixErr maps a client error to a payment error with a stable code; the cause stays wrapped
// (a Retry-After in it is honoured by the flows).
func pixErr(err error) error {
	if err == nil {
		return nil
	}
	var re *pix.RequestError
	var pe *pix.Error
	var ne net.Error
	switch {
	case errors.As(err, &re):
		return &Error{Code: "pix.invalid_request", Kind: KindInvalid, Err: err, Message: "Pedido Pix inválido: " + re.Field + " " + re.Rule}
	case errors.As(err, &pe) && pe.Status == 404:
		return &Error{Code: "pix.charge_not_found", Kind: KindNotFound, Err: err, Message: "Cobrança Pix não encontrada no PSP."}
	case errors.As(err, &pe) && (pe.Status == 401 || pe.Status == 403):
		return &Error{Code: "pix.auth_failed", Kind: KindUnavailable, Err: err, Message: "Pix indisponível: o PSP recusou as credenciais do totem. Chame o técnico."}
	case errors.As(err, &pe) && pe.Temporary():
		return &Error{Code: "pix.psp_unavailable", Kind: KindUnavailable, Err: err, Message: "Pix indisponível no momento. Tente outra forma de pagamento."}
	case errors.As(err, &pe):
		return &Error{Code: "pix.rejected", Kind: KindConflict, Err: err, Message: fmt.Sprintf("O PSP recusou a operação (HTTP %d).", pe.Status)}
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: "pix.psp_unavailable", Kind: KindUnavailable, Err: err, Message: "Pix indisponível no momento. Tente outra forma de pagamento."}
	}
	return &Error{Code: "pix.psp_unavailable", Kind: KindUnavailable, Err: err, Message: "Pix indisponível no momento. Tente outra forma de pagamento."}
}
