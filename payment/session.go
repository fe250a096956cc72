package payment

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// State is where a Session stands. See DESIGN.md "The session and its states".
type State string

// Session states.
const (
	StateOpen      State = "open"      // items chosen, no payment under way
	StatePaying    State = "paying"    // one attempt under way
	StatePaid      State = "paid"      // money taken; ticket not yet printed
	StateFulfilled State = "fulfilled" // ticket printed: the customer has what they paid for
	StateCancelled State = "cancelled" // the customer (or an operator) gave up before paying
	StateExpired   State = "expired"   // nobody finished the session in time
	StatePaidLate  State = "paid_late" // money arrived after the session was cancelled or expired
	StateRefunded  State = "refunded"  // money given back in full
)

// Terminal reports whether no further customer action can change the session.
func (s State) Terminal() bool {
	switch s {
	case StateFulfilled, StateRefunded:
		return true
	}
	return false
}

// sessionEdges is every allowed session transition, and the only place they are listed.
var sessionEdges = map[State][]State{
	StateOpen:      {StatePaying, StateCancelled, StateExpired},
	StatePaying:    {StatePaid, StateOpen, StateCancelled, StateExpired},
	StatePaid:      {StateFulfilled, StateRefunded},
	StateCancelled: {StatePaidLate},
	StateExpired:   {StatePaidLate},
	StatePaidLate:  {StateRefunded, StateFulfilled},
}

// Method is how the customer pays.
type Method string

// Payment methods.
const (
	MethodPix    Method = "pix"
	MethodCredit Method = "credit"
	MethodDebit  Method = "debit"
)

// Valid reports whether m is a known method.
func (m Method) Valid() bool { return m == MethodPix || m == MethodCredit || m == MethodDebit }

// Card reports whether m is paid through the card terminal.
func (m Method) Card() bool { return m == MethodCredit || m == MethodDebit }

// AttemptState is where one payment attempt stands.
type AttemptState string

// Attempt states. Pix: creating -> active -> concluded | expired | removed | failed.
// Card: requested -> approved -> confirmed | undone; requested -> declined | aborted;
// requested -> unknown -> undone | aborted | confirmed | declined (resolved with the manager).
const (
	AttemptCreating  AttemptState = "creating"
	AttemptActive    AttemptState = "active"
	AttemptConcluded AttemptState = "concluded"
	AttemptExpired   AttemptState = "expired"
	AttemptRemoved   AttemptState = "removed"
	AttemptFailed    AttemptState = "failed"

	AttemptRequested AttemptState = "requested"
	AttemptApproved  AttemptState = "approved"
	AttemptConfirmed AttemptState = "confirmed"
	AttemptUndone    AttemptState = "undone"
	AttemptDeclined  AttemptState = "declined"
	AttemptAborted   AttemptState = "aborted"
	// AttemptUnknown: the sale got no answer (connection lost, a crash): it may stand at the
	// manager as a pending transaction until it is undone or shown not to exist.
	AttemptUnknown AttemptState = "unknown"
)

// attemptEdges is every allowed attempt transition, and the only place they are listed.
// A Pix charge left active when its session ends is still watched: money may arrive late.
var attemptEdges = map[AttemptState][]AttemptState{
	AttemptCreating:  {AttemptActive, AttemptFailed},
	AttemptActive:    {AttemptConcluded, AttemptExpired, AttemptRemoved, AttemptFailed},
	AttemptRequested: {AttemptApproved, AttemptDeclined, AttemptAborted, AttemptUnknown},
	AttemptApproved:  {AttemptConfirmed, AttemptUndone},
	AttemptUnknown:   {AttemptUndone, AttemptAborted, AttemptConfirmed, AttemptDeclined},
}

// Final reports whether the attempt can no longer change.
func (a AttemptState) Final() bool { return len(attemptEdges[a]) == 0 }

// Item is one line of a purchase.
type Item struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	UnitCents Money  `json:"unit_cents"`
	Qty       int    `json:"qty"`
}

// Total is UnitCents * Qty.
func (it Item) Total() Money { return it.UnitCents * Money(it.Qty) }

// PixData is what a Pix attempt knows of its charge.
type PixData struct {
	TxID      string    `json:"txid"`
	BRCode    string    `json:"brcode,omitempty"`
	Location  string    `json:"location,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	E2EID     string    `json:"e2eid,omitempty"`
	PaidCents Money     `json:"paid_cents,omitempty"`
	PaidAt    time.Time `json:"paid_at,omitzero"`
	RefundID  string    `json:"refund_id,omitempty"`
	Refunded  bool      `json:"refunded,omitempty"`
	// RefundsFailed counts devoluções the PSP did not make (NAO_REALIZADO); RefundID is then
	// the next try's id.
	RefundsFailed int `json:"refunds_failed,omitempty"`
}

// CardData is what a card attempt knows of its transaction. Never a full card number.
type CardData struct {
	RequestID       string            `json:"request_id,omitempty"`
	Network         string            `json:"network,omitempty"`
	Brand           string            `json:"brand,omitempty"`
	NSU             string            `json:"nsu,omitempty"`
	AuthCode        string            `json:"auth_code,omitempty"`
	MaskedPAN       string            `json:"masked_pan,omitempty"`
	Installments    int               `json:"installments,omitempty"`
	NeedsConfirm    bool              `json:"needs_confirm,omitempty"`
	ConfirmSent     bool              `json:"confirm_sent,omitempty"`
	Charged         Money             `json:"charged_cents,omitempty"` // what the terminal says it charged
	ApprovedAt      time.Time         `json:"approved_at,omitzero"`
	CustomerReceipt []string          `json:"customer_receipt,omitempty"`
	MerchantReceipt []string          `json:"merchant_receipt,omitempty"`
	Ref             map[string]string `json:"ref,omitempty"` // opaque terminal data echoed on confirm/undo
}

// Problem is a stable code and a message for a person (pt-BR).
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Attempt is one try at paying a session.
type Attempt struct {
	N         int          `json:"n"`
	Method    Method       `json:"method"`
	State     AttemptState `json:"state"`
	Amount    Money        `json:"amount_cents"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Pix       *PixData     `json:"pix,omitempty"`
	Card      *CardData    `json:"card,omitempty"`
	Message   string       `json:"message,omitempty"` // what the customer is told now (PIN pad text, decline reason)
	Problem   *Problem     `json:"problem,omitempty"`
}

// Session is one customer's purchase.
type Session struct {
	ID         string    `json:"id"`
	Version    int64     `json:"version"`
	State      State     `json:"state"`
	Items      []Item    `json:"items"`
	TotalCents Money     `json:"total_cents"`
	Total      string    `json:"total"` // TotalCents formatted for people
	Prefix     string    `json:"prefix"`
	Ticket     string    `json:"ticket,omitempty"`
	Attempts   []Attempt `json:"attempts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	PaidAt     time.Time `json:"paid_at,omitzero"`
	// TicketPrints counts prints started (written before each): a print after the first is a
	// second copy ("2ª via").
	TicketPrints int      `json:"ticket_prints,omitempty"`
	Problem      *Problem `json:"problem,omitempty"` // why the session ended as it did, or what is wrong now
}

// Current returns the latest attempt, or nil.
func (s *Session) Current() *Attempt {
	if len(s.Attempts) == 0 {
		return nil
	}
	return &s.Attempts[len(s.Attempts)-1]
}

// Attempt returns attempt n (1-based), or nil.
func (s *Session) Attempt(n int) *Attempt {
	if n < 1 || n > len(s.Attempts) {
		return nil
	}
	return &s.Attempts[n-1]
}

// waitingOn reports whether the session is paying and waiting on attempt n.
func (s *Session) waitingOn(n int) bool { return s.State == StatePaying && s.Current().N == n }

// PaidAttempt returns the attempt that took the money, or nil.
func (s *Session) PaidAttempt() *Attempt {
	for i := range s.Attempts {
		switch s.Attempts[i].State {
		case AttemptConcluded, AttemptConfirmed:
			return &s.Attempts[i]
		case AttemptApproved:
			if s.State == StatePaid || s.State == StateFulfilled {
				return &s.Attempts[i]
			}
		}
	}
	return nil
}

// TransitionError is an illegal state change: a bug or a race, never overwritten silently.
type TransitionError struct {
	What     string // "session" or "attempt"
	ID       string
	From, To string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("illegal %s transition %s: %s -> %s", e.What, e.ID, e.From, e.To)
}

// setState moves the session along an allowed edge.
func (s *Session) setState(to State) error {
	if !allowed(sessionEdges[s.State], to) {
		return &TransitionError{"session", s.ID, string(s.State), string(to)}
	}
	s.State = to
	return nil
}

// setState moves the attempt along an allowed edge.
func (a *Attempt) setState(sessionID string, to AttemptState) error {
	if !allowed(attemptEdges[a.State], to) {
		return &TransitionError{"attempt", fmt.Sprintf("%s#%d", sessionID, a.N), string(a.State), string(to)}
	}
	a.State = to
	return nil
}

func allowed[T comparable](edges []T, to T) bool {
	for _, e := range edges {
		if e == to {
			return true
		}
	}
	return false
}

// crockford is the ULID alphabet: upper-case letters and digits, so ids fit a Pix txid.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a 26-character ULID: 48 bits of milliseconds then 80 random bits, so ids sort
// by creation time and never collide between kiosks.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing is safe
	}
	var out [26]byte
	// 128 bits as 26 base-32 digits (the first digit holds 3 bits).
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ValidID reports whether id looks like a session id (so it is safe in keys, URLs and txids).
func ValidID(id string) bool {
	if len(id) != 26 || id[0] > '7' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(crockford, id[i]) < 0 {
			return false
		}
	}
	return true
}

// PixTxID derives the Pix txid of attempt n of a session: 26 id characters + "PX" + two
// digits, 30 characters of [A-Z0-9], inside the BCB's 26-35. Derived, never random: a PUT
// /cob/{txid} retried after a crash or a timeout addresses the same charge and can never
// create a second one.
func PixTxID(sessionID string, n int) string { return fmt.Sprintf("%sPX%02d", sessionID, n) }

// PixRefundID derives the devolução id for attempt n: retries address the same refund.
func PixRefundID(sessionID string, n int) string { return fmt.Sprintf("%sDV%02d", sessionID, n) }

// pixRefundIDTry is the id of try k (0 first) of the refund of attempt n: after a devolução the
// PSP did not make (NAO_REALIZADO), the next one needs an id of its own.
func pixRefundIDTry(sessionID string, n, k int) string {
	if k == 0 {
		return PixRefundID(sessionID, n)
	}
	return fmt.Sprintf("%sDV%02dR%d", sessionID, n, k)
}
