// Package paymenttest has in-process fakes of the payment Service's three ports (Pix provider,
// card terminal, ticket printer) for tests, and for the demo until the real simulators of the
// Pix, TEF and printer packages take their place. They keep a ledger so tests can assert what
// was charged, confirmed, undone, refunded and printed.
package paymenttest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/totemd/totemd/payment"
)

// Pix is a fake PSP: charges live in memory; Pay simulates the customer paying.
type Pix struct {
	mu      sync.Mutex
	charges map[string]*charge
	// Creates counts CreateCharge calls per txid (idempotent retries included).
	Creates map[string]int
	// Refunds holds refund id -> amount, at most once per id.
	Refunds map[string]payment.Money
	// Fail, when set, makes the named operation ("create", "status", "cancel", "refund") fail.
	Fail map[string]error
	now  func() time.Time
	seq  int
}

type charge struct {
	req      payment.PixChargeRequest
	state    payment.PixChargeState
	payments []payment.PixPayment
}

// NewPix returns an empty fake PSP.
func NewPix(now func() time.Time) *Pix {
	if now == nil {
		now = time.Now
	}
	return &Pix{charges: map[string]*charge{}, Creates: map[string]int{}, Refunds: map[string]payment.Money{},
		Fail: map[string]error{}, now: now}
}

func (p *Pix) fail(op string) error {
	if err := p.Fail[op]; err != nil {
		return err
	}
	return nil
}

// CreateCharge implements payment.PixProvider.
func (p *Pix) CreateCharge(ctx context.Context, req payment.PixChargeRequest) (payment.PixCharge, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Creates[req.TxID]++
	if err := p.fail("create"); err != nil {
		return payment.PixCharge{}, err
	}
	c, ok := p.charges[req.TxID]
	if !ok {
		c = &charge{req: req, state: payment.PixActive}
		p.charges[req.TxID] = c
	}
	return payment.PixCharge{TxID: req.TxID, BRCode: "FAKEPIX:" + req.TxID + ":" + req.Amount.Decimal(),
		Location: "pix.example/qr/" + req.TxID, CreatedAt: p.now(), Expiry: req.Expiry}, nil
}

// ChargeStatus implements payment.PixProvider.
func (p *Pix) ChargeStatus(ctx context.Context, txid string) (payment.PixStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail("status"); err != nil {
		return payment.PixStatus{}, err
	}
	c, ok := p.charges[txid]
	if !ok {
		return payment.PixStatus{}, payment.Errf(payment.KindNotFound, "pix.charge_not_found", "cobrança %s não encontrada", txid)
	}
	return payment.PixStatus{State: c.state, Payments: append([]payment.PixPayment(nil), c.payments...)}, nil
}

// CancelCharge implements payment.PixProvider.
func (p *Pix) CancelCharge(ctx context.Context, txid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail("cancel"); err != nil {
		return err
	}
	c, ok := p.charges[txid]
	if !ok {
		return payment.Errf(payment.KindNotFound, "pix.charge_not_found", "cobrança %s não encontrada", txid)
	}
	if c.state != payment.PixActive {
		return payment.Errf(payment.KindConflict, "pix.charge_not_active", "cobrança %s está %s", txid, c.state)
	}
	c.state = payment.PixRemovedByReceiver
	return nil
}

// Refund implements payment.PixProvider.
func (p *Pix) Refund(ctx context.Context, e2eid, refundID string, amount payment.Money) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail("refund"); err != nil {
		return err
	}
	if _, ok := p.Refunds[refundID]; !ok {
		p.Refunds[refundID] = amount
	}
	return nil
}

// Pay simulates the customer paying amount for txid; false if the charge cannot be paid.
func (p *Pix) Pay(txid string, amount payment.Money) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.charges[txid]
	if !ok || c.state != payment.PixActive {
		return false
	}
	p.seq++
	c.state = payment.PixConcluded
	c.payments = append(c.payments, payment.PixPayment{
		E2EID: fmt.Sprintf("E00000000%s%011d", p.now().UTC().Format("200601021504"), p.seq), Amount: amount, Time: p.now()})
	return true
}

// Amount returns what a charge asks for (0 if unknown).
func (p *Pix) Amount(txid string) payment.Money {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.charges[txid]; ok {
		return c.req.Amount
	}
	return 0
}

// Card is a fake TEF manager. The outcome follows the TEF simulator's centavos scenarios:
// ,51 declined, ,52 cancelled on the PIN pad, ,53 no answer; anything else approved.
type Card struct {
	mu    sync.Mutex
	Delay time.Duration // PIN pad time
	// Ledger: NSU -> "pending" | "confirmed" | "undone".
	Ledger map[string]string
	nsu    int
	// Block, when not nil, makes Sale wait for a value (or ctx) before answering.
	Block chan struct{}

	leftovers []payment.CardResult
	down      bool
}

// NewCard returns a fake card terminal.
func NewCard() *Card { return &Card{Ledger: map[string]string{}} }

// Sale implements payment.CardTerminal.
func (c *Card) Sale(ctx context.Context, req payment.CardSale, progress func(string)) (payment.CardResult, error) {
	if progress != nil {
		progress("INSIRA OU APROXIME O CARTÃO")
	}
	c.mu.Lock()
	delay, block := c.Delay, c.Block
	c.mu.Unlock()
	select {
	case <-ctx.Done():
		return payment.CardResult{}, ctx.Err()
	case <-time.After(delay):
	}
	if block != nil {
		select {
		case <-ctx.Done():
			return payment.CardResult{}, ctx.Err()
		case <-block:
		}
	}
	switch req.Amount % 100 {
	case 51:
		return payment.CardResult{Message: "TRANSACAO NEGADA PELO EMISSOR", Data: payment.CardData{Network: "REDE"}}, nil
	case 52:
		return payment.CardResult{Message: "OPERACAO CANCELADA"}, nil
	case 53:
		return payment.CardResult{}, payment.Errf(payment.KindUnavailable, "tef.unavailable", "TEF não responde.")
	}
	if progress != nil {
		progress("DIGITE A SENHA")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nsu++
	nsu := fmt.Sprintf("%06d", c.nsu)
	c.Ledger[nsu] = "pending"
	return payment.CardResult{Approved: true, Amount: req.Amount, Data: payment.CardData{
		Network: "REDE", Brand: "VISA", NSU: nsu, AuthCode: "A1B2C3", MaskedPAN: "************1234",
		NeedsConfirm: true, Installments: req.Installments,
		CustomerReceipt: []string{"REDE - VIA CLIENTE", "VISA ************1234", "VALOR: " + req.Amount.String()},
		MerchantReceipt: []string{"REDE - VIA ESTABELECIMENTO", "NSU " + nsu},
	}}, nil
}

// Confirm implements payment.CardTerminal.
func (c *Card) Confirm(ctx context.Context, res payment.CardResult) error {
	return c.settle(res, "confirmed")
}

// Undo implements payment.CardTerminal.
func (c *Card) Undo(ctx context.Context, res payment.CardResult) error {
	return c.settle(res, "undone")
}

func (c *Card) settle(res payment.CardResult, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.Ledger[res.Data.NSU]
	if !ok {
		return fmt.Errorf("fake card: unknown NSU %q", res.Data.NSU)
	}
	if st != "pending" && st != to {
		return fmt.Errorf("fake card: NSU %s is %s, cannot be %s", res.Data.NSU, st, to)
	}
	c.Ledger[res.Data.NSU] = to
	return nil
}

// Leftovers implements payment.CardTerminal: what SetLeftovers left, once.
func (c *Card) Leftovers(context.Context) ([]payment.CardResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leftovers
	c.leftovers = nil
	return l, nil
}

// SetLeftovers makes the next Leftovers return l (answers a crash left unread).
func (c *Card) SetLeftovers(l []payment.CardResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leftovers = l
}

// Ready implements payment.CardTerminal: nil unless SetDown(true).
func (c *Card) Ready(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return payment.Errf(payment.KindUnavailable, "tef.unavailable", "TEF não responde.")
	}
	return nil
}

// SetDown makes Ready report the terminal down.
func (c *Card) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// Count returns how many ledger entries are in state st.
func (c *Card) Count(st string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.Ledger {
		if v == st {
			n++
		}
	}
	return n
}

// Printer is a fake ticket printer: it keeps what it printed; its paper can run out.
type Printer struct {
	mu       sync.Mutex
	notRdy   error
	failing  error
	printed  []payment.Ticket
	receipts []Receipt
}

// NewPrinter returns a ready printer.
func NewPrinter() *Printer { return &Printer{} }

// PaperOut makes the printer report paper out (true) or loaded (false).
func (p *Printer) PaperOut(out bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notRdy = nil
	if out {
		p.notRdy = payment.Errf(payment.KindUnavailable, "printer.paper_out", "Impressora sem papel.")
	}
}

// FailNext makes prints fail with err until called with nil (a jam in the middle of a job).
func (p *Printer) FailNext(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = err
}

// Ready implements payment.TicketPrinter.
func (p *Printer) Ready(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notRdy
}

// PrintTicket implements payment.TicketPrinter.
func (p *Printer) PrintTicket(ctx context.Context, t payment.Ticket) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notRdy != nil {
		return p.notRdy
	}
	if p.failing != nil {
		return p.failing
	}
	p.printed = append(p.printed, t)
	return nil
}

// PrintReceipt implements payment.ReceiptPrinter: the receipts printed are in Receipts.
func (p *Printer) PrintReceipt(_ context.Context, sessionID, number string, lines []string, title string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notRdy != nil {
		return p.notRdy
	}
	p.receipts = append(p.receipts, Receipt{SessionID: sessionID, Number: number, Lines: lines, Title: title})
	return nil
}

// Receipt is a receipt copy the fake printed.
type Receipt struct {
	SessionID, Number, Title string
	Lines                    []string
}

// Receipts returns the receipt copies printed so far.
func (p *Printer) Receipts() []Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Receipt(nil), p.receipts...)
}

// TicketPrinted implements payment.TicketPrinter.
func (p *Printer) TicketPrinted(_ context.Context, sessionID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.printed {
		if t.SessionID == sessionID {
			return true, nil
		}
	}
	return false, nil
}

// Printed returns the tickets printed so far.
func (p *Printer) Printed() []payment.Ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]payment.Ticket(nil), p.printed...)
}
