package payment

import (
	"context"
	"errors"
	"time"
)

// The Service talks to the outside through these interfaces, defined here where they are used.
// payment/pix, payment/tef and printer provide the real ones; payment/paymenttest has fakes.

// PixProvider is a PSP speaking the BCB Pix API.
type PixProvider interface {
	// CreateCharge creates (or, for the same txid, returns again) an immediate charge.
	// It must be idempotent on TxID: calling it twice never makes two charges.
	CreateCharge(ctx context.Context, req PixChargeRequest) (PixCharge, error)
	// ChargeStatus reads the charge and the payments made to it.
	ChargeStatus(ctx context.Context, txid string) (PixStatus, error)
	// CancelCharge removes an active charge so it can no longer be paid.
	CancelCharge(ctx context.Context, txid string) error
	// Refund gives back amount of the payment e2eid; idempotent on refundID. nil only once the
	// PSP shows it DEVOLVIDO; ErrRefundProcessing (wrapped) while it is in processing (ask
	// again with the same id); ErrRefundNotMade (wrapped) when the PSP did not make it (a new
	// id is needed for another try).
	Refund(ctx context.Context, e2eid, refundID string, amount Money) error
}

// PixChargeRequest asks for a dynamic charge.
type PixChargeRequest struct {
	TxID        string
	Amount      Money
	Expiry      time.Duration
	Description string // shown to the payer by their bank
}

// PixCharge is a charge as the PSP created it.
type PixCharge struct {
	TxID      string
	BRCode    string // pixCopiaECola, the QR payload
	Location  string
	CreatedAt time.Time
	Expiry    time.Duration
}

// PixChargeState is the PSP's view of a charge.
type PixChargeState string

// Charge states, as the BCB API names them.
const (
	PixActive            PixChargeState = "ATIVA"
	PixConcluded         PixChargeState = "CONCLUIDA"
	PixRemovedByReceiver PixChargeState = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
	PixRemovedByPSP      PixChargeState = "REMOVIDA_PELO_PSP"
)

// PixStatus is a charge and what was paid to it.
type PixStatus struct {
	State    PixChargeState
	Payments []PixPayment
	// RetryAfter, when set, is how long the PSP asked us to wait before asking again.
	RetryAfter time.Duration
}

// PixPayment is money received for a charge.
type PixPayment struct {
	E2EID  string
	Amount Money
	Time   time.Time
}

// Outcomes of a refund that is not done (yet).
var (
	ErrRefundProcessing = errors.New("payment: refund in processing at the PSP")
	ErrRefundNotMade    = errors.New("payment: the PSP did not make the refund")
)

// CardTerminal is the TEF manager driving the PIN pad.
type CardTerminal interface {
	// Sale runs a card sale. It blocks while the customer uses the PIN pad (minutes), returns a
	// result for approvals and declines alike, and an error only when there is no answer.
	// progress, when not nil, receives the PIN pad's messages to show the customer.
	Sale(ctx context.Context, req CardSale, progress func(msg string)) (CardResult, error)
	// Confirm (CNF) tells the manager the receipt was printed: the sale stands.
	Confirm(ctx context.Context, res CardResult) error
	// Undo (NCN) tells the manager the sale must not stand.
	Undo(ctx context.Context, res CardResult) error
	// Leftovers returns the answers to sales sent before a crash that were never read (the
	// file exchange keeps them). The Service calls it once, at start, before anything else,
	// and recovers what it returns even along with an error.
	Leftovers(ctx context.Context) ([]CardResult, error)
	// Ready returns nil unless the terminal is known to be down now (an *Error saying why).
	// It must answer at once.
	Ready(ctx context.Context) error
}

// CardSale is a card sale request.
type CardSale struct {
	Amount       Money
	Document     string // the ticket number, linked to the transaction
	Method       Method // credit or debit
	Installments int
}

// CardResult is the manager's answer to a sale.
type CardResult struct {
	Approved bool
	Message  string // for the customer (declines, PIN pad cancellations)
	Amount   Money  // the amount actually charged
	Data     CardData
	// Pending: the sale was refused because another transaction is pending at the manager;
	// Data names that one (network, NSU, Ref) so it can be confirmed or undone.
	Pending  bool
	Document string // the linked document (ticket number) the manager echoed
	Code     string // the manager's status code (TEF Dial 009-000), for the record
}

// TicketPrinter prints the customer's ticket.
type TicketPrinter interface {
	// Ready returns nil when a ticket can be printed now, or an *Error (printer.paper_out,
	// printer.cover_open, printer.offline) saying why not. It must answer quickly.
	Ready(ctx context.Context) error
	// PrintTicket returns nil only when the ticket was verifiably printed and cut.
	PrintTicket(ctx context.Context, t Ticket) error
	// TicketPrinted reports whether a ticket of the session was verifiably printed (the printer's
	// own record, kept across restarts): start-up recovery asks it of a card sale approved
	// and printed whose CNF never left.
	TicketPrinted(ctx context.Context, sessionID string) (bool, error)
}

// ReceiptPrinter is a TicketPrinter that also prints a TEF receipt copy on its own (used for
// the merchant's copy when Config.PrintMerchantCopy is set).
type ReceiptPrinter interface {
	PrintReceipt(ctx context.Context, sessionID, number string, lines []string, title string) error
}

// Ticket is what is printed for a customer who paid.
type Ticket struct {
	Number    string
	SessionID string
	Items     []Item
	Total     Money
	Method    Method
	PaidAt    time.Time
	Pix       *PixData  // end-to-end id
	Card      *CardData // brand, NSU, authorization, masked card, customer receipt lines
	Reprint   bool      // a second copy (after a crash or a failed print)
}
