package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/totemd/totemd/sync/journal"
)

// Event types this package appends to the journal. Data is the session JSON after the change.
const (
	EventSessionCreated = "session.created"
	EventSessionState   = "session.state"   // the session changed state
	EventSessionAttempt = "session.attempt" // an attempt changed, the session did not
	EventSessionNote    = "session.note"    // a problem or decision recorded (print failed, refund)
	EventPixQR          = "pix.qr"          // Data is PixQR: the code to show, with its PNG
)

// PixQR is what the screen needs to show a Pix charge.
type PixQR struct {
	TxID      string    `json:"txid"`
	Attempt   int       `json:"attempt"`
	BRCode    string    `json:"brcode"`
	PNG       string    `json:"png"` // data:image/png;base64,...
	ExpiresAt time.Time `json:"expires_at"`
}

// Options wires a Service.
type Options struct {
	Config  Config
	Catalog Catalog
	Store   *journal.Store
	Pix     PixProvider   // nil: Pix is not offered
	Card    CardTerminal  // nil: cards are not offered
	Printer TicketPrinter // required: nobody pays without a ticket
	Now     func() time.Time
	Logger  *slog.Logger
	// CrashPoint, when set, is called at the named points of the card flow (card.sale,
	// card.approved, card.printed, card.confirm_sent, card.confirmed): the crash tests kill
	// the process there.
	CrashPoint func(point string)
}

// Service runs payments: charge -> confirm -> print -> (card) confirm/undo -> fulfil.
// Every change is one journal transaction; the journal notifies followers after commit.
type Service struct {
	cfg     Config
	catalog Catalog
	store   *journal.Store
	pix     PixProvider
	card    CardTerminal
	printer TicketPrinter
	now     func() time.Time
	log     *slog.Logger
	loc     *time.Location

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]chan struct{} // "session#attempt" -> wake-up of its running flow
	started bool

	cardMu     sync.Mutex    // one card operation at a time: see card.go
	cardReady  chan struct{} // closed when start-up card recovery is done
	crashPoint func(string)
	closing    bool // set by Close: no new flow starts
}

// New checks the options and returns a Service; Start begins its work.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Printer == nil {
		return nil, errors.New("payment: a journal and a printer are required")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(o.Config.Timezone)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	crashPoint := o.CrashPoint
	if crashPoint == nil {
		crashPoint = func(string) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		cfg: o.Config, catalog: o.Catalog, store: o.Store, pix: o.Pix, card: o.Card,
		printer: o.Printer, now: o.Now, log: o.Logger, loc: loc,
		ctx: ctx, cancel: cancel, running: map[string]chan struct{}{},
		cardReady: make(chan struct{}), crashPoint: crashPoint,
	}, nil
}

// Start resumes whatever a crash or a restart interrupted, then starts the expiry sweeper.
// It must be called once, before the API accepts requests.
func (s *Service) Start() error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("payment: Start called twice")
	}
	s.started = true
	s.mu.Unlock()
	if s.card != nil {
		// The manager's leftovers are read before anything else is sent to it: any other
		// request would delete them unread.
		ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
		leftovers, err := s.card.Leftovers(ctx)
		cancel()
		if err != nil {
			s.log.Error("reading the TEF manager's leftover answers", "err", err)
		}
		s.goSafe(func() { s.recoverCards(leftovers) })
	} else {
		close(s.cardReady)
	}
	if err := s.recover(); err != nil {
		return err
	}
	s.goSafe(s.sweeper)
	return nil
}

// goSafe runs fn in the background unless Close has begun: what is not started now is
// persisted and resumed at the next start.
func (s *Service) goSafe(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.wg.Go(fn)
	}
}

// Close stops every flow and waits for them. Flows resume at the next Start.
func (s *Service) Close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Catalog returns what the kiosk sells, prices formatted.
func (s *Service) Catalog() Catalog {
	out := make(Catalog, len(s.catalog))
	for i, p := range s.catalog {
		p.Price = p.PriceCents.String()
		out[i] = p
	}
	return out
}

// MethodStatus says whether a method can be used now, and why not.
type MethodStatus struct {
	Method    Method   `json:"method"`
	Available bool     `json:"available"`
	Problem   *Problem `json:"problem,omitempty"`
}

// Methods lists the configured methods and whether each can complete right now.
func (s *Service) Methods(ctx context.Context) []MethodStatus {
	printErr := s.printer.Ready(ctx)
	out := make([]MethodStatus, 0, len(s.cfg.Methods))
	for _, m := range s.cfg.Methods {
		st := MethodStatus{Method: m, Available: true}
		if err := s.canUse(m); err != nil {
			st.Available, st.Problem = false, ProblemOf(err)
		} else if printErr != nil {
			st.Available, st.Problem = false, ProblemOf(printErr)
		} else if err := s.cardReadyFor(ctx, m); err != nil {
			st.Available, st.Problem = false, ProblemOf(err)
		}
		out = append(out, st)
	}
	return out
}

// cardReadyFor says why a card method cannot start a sale now (nil for Pix or when it can).
func (s *Service) cardReadyFor(ctx context.Context, m Method) error {
	if !m.Card() || s.card == nil {
		return nil
	}
	return s.cardReadyErr(ctx)
}

func (s *Service) canUse(m Method) error {
	if !allowed(s.cfg.Methods, m) {
		return Errf(KindInvalid, "payment.method_disabled", "Forma de pagamento %q não disponível neste totem.", m)
	}
	if m == MethodPix && s.pix == nil {
		return Errf(KindUnavailable, "pix.not_configured", "Pix não está configurado neste totem.")
	}
	if m.Card() && s.card == nil && !s.cfg.ExternalCard {
		return Errf(KindUnavailable, "tef.not_configured", "Pagamento com cartão não está configurado neste totem.")
	}
	return nil
}

// Create opens a session for the items.
func (s *Service) Create(ctx context.Context, items []Item) (*Session, error) {
	if len(items) == 0 || len(items) > 50 {
		return nil, Errf(KindInvalid, "session.invalid_items", "Informe de 1 a 50 itens (recebidos %d).", len(items))
	}
	prefix := ""
	var total Money
	clean := make([]Item, len(items))
	for i, it := range items {
		if !skuRe.MatchString(it.SKU) {
			return nil, Errf(KindInvalid, "session.invalid_items", "Item %d: código (sku) %q inválido: use 1-40 letras, dígitos, '_', '.' ou '-'.", i+1, it.SKU)
		}
		if it.Qty < 1 || it.Qty > 99 {
			return nil, Errf(KindInvalid, "session.invalid_items", "Item %d (%s): quantidade deve ser de 1 a 99 (recebida %d).", i+1, it.SKU, it.Qty)
		}
		if len(s.catalog) > 0 {
			p, ok := s.catalog.Find(it.SKU)
			if !ok {
				return nil, Errf(KindInvalid, "session.unknown_item", "Item %d: serviço %q não existe no catálogo deste totem.", i+1, it.SKU)
			}
			if it.UnitCents != p.PriceCents {
				return nil, Errf(KindInvalid, "session.price_mismatch", "Item %d (%s): preço %s difere do catálogo (%s). Recarregue a tela.", i+1, it.SKU, it.UnitCents, p.PriceCents)
			}
			it.Name = p.Name
			if prefix == "" {
				prefix = p.Prefix
			}
		}
		it.Name = strings.TrimSpace(it.Name)
		if it.Name == "" || len(it.Name) > 80 {
			return nil, Errf(KindInvalid, "session.invalid_items", "Item %d (%s): nome obrigatório, até 80 caracteres.", i+1, it.SKU)
		}
		if it.UnitCents <= 0 || it.UnitCents > MaxMoney {
			return nil, Errf(KindInvalid, "session.invalid_items", "Item %d (%s): preço unitário deve ser positivo, em centavos (recebido %d).", i+1, it.SKU, it.UnitCents)
		}
		total += it.Total()
		if total > MaxMoney {
			return nil, Errf(KindInvalid, "session.invalid_items", "Valor total acima do máximo permitido.")
		}
		clean[i] = it
	}
	if prefix == "" {
		prefix = "A"
	}
	now := s.now()
	sess := &Session{
		ID: NewID(now), Version: 1, State: StateOpen, Items: clean, TotalCents: total,
		Prefix: prefix, Attempts: []Attempt{}, CreatedAt: now, UpdatedAt: now,
	}
	_, err := s.store.Update(func(tx *journal.Tx) error { return put(tx, sess, EventSessionCreated) })
	if err != nil {
		return nil, storageErr(err)
	}
	return sess, nil
}

// Get returns a session.
func (s *Service) Get(ctx context.Context, id string) (*Session, error) {
	var sess *Session
	err := s.store.View(func(tx *journal.Tx) error {
		var err error
		sess, err = load(tx, id)
		return err
	})
	return sess, err
}

// ListOptions filters List.
type ListOptions struct {
	Limit  int    // default 50, at most 1000
	Before string // only sessions older than this id (paging)
	State  State  // only sessions in this state
}

// List returns sessions, newest first.
func (s *Service) List(ctx context.Context, o ListOptions) ([]*Session, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	o.Limit = min(o.Limit, 1000)
	out := []*Session{}
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEachReverse(journal.BucketSessions, func(k string, v []byte) error {
			if o.Before != "" && k >= o.Before {
				return nil
			}
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			if o.State == "" || sess.State == o.State {
				out = append(out, &sess)
			}
			if len(out) >= o.Limit {
				return journal.Stop
			}
			return nil
		})
	})
	if err != nil {
		return nil, storageErr(err)
	}
	return out, nil
}

// PayRequest starts a payment attempt.
type PayRequest struct {
	Method       Method `json:"method"`
	Installments int    `json:"installments,omitempty"`
}

// Pay starts an attempt and returns at once; the flow goes on in the background and every step
// is an event. A payment is refused before anything is charged when no ticket can be printed.
func (s *Service) Pay(ctx context.Context, id string, req PayRequest) (*Session, error) {
	if !req.Method.Valid() {
		return nil, Errf(KindInvalid, "payment.invalid_method", "Forma de pagamento %q inválida: use pix, credit ou debit.", req.Method)
	}
	if err := s.canUse(req.Method); err != nil {
		return nil, err
	}
	if req.Installments < 0 || req.Installments > 1 && req.Method != MethodCredit {
		return nil, Errf(KindInvalid, "payment.invalid_installments", "Parcelamento só é possível no crédito.")
	}
	if err := s.printer.Ready(ctx); err != nil {
		e := AsError(err)
		return nil, &Error{Code: e.Code, Kind: KindUnavailable, Err: err,
			Message: "Não é possível emitir o ticket agora (" + e.Message + "). Nenhum valor foi cobrado."}
	}
	if err := s.ctx.Err(); err != nil {
		return nil, Errf(KindUnavailable, "service.stopping", "O totem está reiniciando. Tente novamente em instantes.")
	}
	if req.Method.Card() && s.card == nil {
		return nil, Errf(KindConflict, "payment.external_card", "Neste totem o cartão é pago no POS: o resultado chega por POST /api/v1/sessions/%s/card-result.", id)
	}
	if err := s.cardReadyFor(ctx, req.Method); err != nil {
		return nil, err
	}
	sess, err := s.update(id, func(tx *journal.Tx, sess *Session) error {
		if sess.State != StateOpen {
			return Errf(KindConflict, "session.not_open", "Sessão %s não aceita pagamento agora (estado %s).", sess.ID, sess.State)
		}
		if len(sess.Attempts) >= s.cfg.MaxAttempts {
			return Errf(KindConflict, "session.too_many_attempts", "Limite de %d tentativas atingido. Inicie uma nova compra.", s.cfg.MaxAttempts)
		}
		if err := s.assignTicket(tx, sess); err != nil {
			return err
		}
		now := s.now()
		a := Attempt{N: len(sess.Attempts) + 1, Method: req.Method, Amount: sess.TotalCents, CreatedAt: now, UpdatedAt: now}
		if req.Method == MethodPix {
			a.State = AttemptCreating
			a.Pix = &PixData{TxID: PixTxID(sess.ID, a.N)}
		} else {
			a.State = AttemptRequested
			a.Card = &CardData{Installments: req.Installments}
			a.Message = "Siga as instruções do PIN pad."
		}
		sess.Attempts = append(sess.Attempts, a)
		sess.Problem = nil
		return sess.setState(StatePaying)
	})
	if err != nil {
		return nil, err
	}
	s.spawn(sess.ID, len(sess.Attempts))
	return sess, nil
}

// assignTicket gives the session its ticket number at its first payment attempt: per prefix
// and local day.
func (s *Service) assignTicket(tx *journal.Tx, sess *Session) error {
	if sess.Ticket != "" {
		return nil
	}
	n, err := tx.NextCounter(journal.BucketCounters, "ticket/"+s.now().In(s.loc).Format("2006-01-02")+"/"+sess.Prefix)
	if err != nil {
		return err
	}
	sess.Ticket = fmt.Sprintf("%s%03d", sess.Prefix, n)
	return nil
}

// Cancel ends a session the customer gave up on. A Pix charge is removed at the PSP first, so
// money cannot arrive after the customer was told the purchase was cancelled; if it arrived
// already, the cancel is refused and the payment goes on to the ticket.
func (s *Service) Cancel(ctx context.Context, id string) (*Session, error) {
	sess, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	removed := false // the PSP shows the charge removed: nothing can land on it any more
	removedN := 0    // of this attempt (a later one may have started meanwhile)
	if a := sess.Current(); sess.State == StatePaying && a != nil {
		removedN = a.N
		if a.Method.Card() {
			return nil, Errf(KindConflict, "session.card_in_progress", "Pagamento com cartão em andamento: cancele no PIN pad.")
		}
		if a.State == AttemptActive && s.pix != nil {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := s.pix.CancelCharge(cctx, a.Pix.TxID); err != nil {
				s.log.Warn("pix cancel failed; the charge stays watched for a late payment", "session", id, "txid", a.Pix.TxID, "err", err)
			}
			cancel()
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := s.pix.ChargeStatus(sctx, a.Pix.TxID)
			cancel()
			if err == nil && st.State == PixConcluded {
				s.wake(id)
				return nil, Errf(KindConflict, "session.already_paid", "O pagamento já foi recebido: aguarde o ticket.")
			}
			removed = err == nil && (st.State == PixRemovedByReceiver || st.State == PixRemovedByPSP)
		}
	}
	sess, err = s.update(id, func(_ *journal.Tx, sess *Session) error {
		if err := sess.setState(StateCancelled); err != nil {
			return alreadyErr(sess, err)
		}
		sess.Problem = &Problem{Code: "session.cancelled", Message: "Compra cancelada."}
		if a := sess.Attempt(removedN); a != nil && a.State == AttemptActive && removed {
			a.UpdatedAt = s.now()
			return a.setState(sess.ID, AttemptRemoved)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.wake(id)
	return sess, nil
}

func alreadyErr(sess *Session, err error) error {
	switch sess.State {
	case StatePaid, StateFulfilled:
		return &Error{Code: "session.already_paid", Kind: KindConflict, Err: err, Message: "O pagamento já foi recebido: aguarde o ticket."}
	}
	return &Error{Code: "session.conflict", Kind: KindConflict, Err: err,
		Message: fmt.Sprintf("Sessão %s não pode mais ser alterada (estado %s).", sess.ID, sess.State)}
}

// Sweep expires open sessions untouched for SessionTimeout. The sweeper calls it; tests may too.
func (s *Service) Sweep() error {
	now := s.now()
	var stale []string
	horizon := now.Add(-2*s.cfg.SessionTimeout - 48*time.Hour)
	err := s.store.View(func(tx *journal.Tx) error {
		return tx.ForEachReverse(journal.BucketSessions, func(k string, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			if sess.CreatedAt.Before(horizon) {
				return journal.Stop
			}
			if sess.State == StateOpen && now.Sub(sess.UpdatedAt) >= s.cfg.SessionTimeout {
				stale = append(stale, sess.ID)
			}
			return nil
		})
	})
	if err != nil {
		return storageErr(err)
	}
	for _, id := range stale {
		_, err := s.update(id, func(_ *journal.Tx, sess *Session) error {
			if sess.State != StateOpen || now.Sub(sess.UpdatedAt) < s.cfg.SessionTimeout {
				return errSkip
			}
			sess.Problem = &Problem{Code: "session.expired", Message: "Tempo esgotado: a compra foi encerrada."}
			return sess.setState(StateExpired)
		})
		if err != nil && !errors.Is(err, errSkip) {
			s.log.Error("expiring session", "session", id, "err", err)
		}
	}
	return nil
}

func (s *Service) sweeper() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(); err != nil {
				s.log.Error("session sweep", "err", err)
			}
		}
	}
}

// errSkip aborts an update that found nothing to do.
var errSkip = errors.New("nothing to do")

// update is the one path by which a session changes: load, mutate, validate, bump the
// version, store and append the event, all in one journal transaction.
func (s *Service) update(id string, fn func(tx *journal.Tx, sess *Session) error) (*Session, error) {
	var out *Session
	_, err := s.store.Update(func(tx *journal.Tx) error {
		sess, err := load(tx, id)
		if err != nil {
			return err
		}
		before, _ := json.Marshal(sess)
		from := sess.State
		if err := fn(tx, sess); err != nil {
			return err
		}
		if after, _ := json.Marshal(sess); string(after) == string(before) {
			out = sess
			return errSkip // nothing changed: no version, no event
		}
		sess.Version++
		sess.UpdatedAt = s.now()
		ev := EventSessionAttempt
		if sess.State != from {
			ev = EventSessionState
		}
		out = sess
		return put(tx, sess, ev)
	})
	if errors.Is(err, errSkip) && out != nil {
		return out, nil
	}
	if err != nil {
		var pe *Error
		var te *TransitionError
		if errors.As(err, &pe) || errors.As(err, &te) || errors.Is(err, errSkip) {
			return nil, err
		}
		return nil, storageErr(err)
	}
	return out, nil
}

// note appends a session.note event: a decision or a problem worth keeping in the log.
func (s *Service) note(id, code, msg string) {
	_, err := s.store.Update(func(tx *journal.Tx) error {
		data, _ := json.Marshal(Problem{Code: code, Message: msg})
		_, err := tx.Append(journal.Event{Type: EventSessionNote, SessionID: id, Data: data})
		return err
	})
	if err != nil {
		s.log.Error("recording note", "session", id, "code", code, "err", err)
	}
}

func load(tx *journal.Tx, id string) (*Session, error) {
	if !ValidID(id) {
		return nil, Errf(KindNotFound, "session.not_found", "Sessão %q não existe.", id)
	}
	v := tx.Get(journal.BucketSessions, id)
	if v == nil {
		return nil, Errf(KindNotFound, "session.not_found", "Sessão %q não existe.", id)
	}
	var sess Session
	if err := json.Unmarshal(v, &sess); err != nil {
		return nil, fmt.Errorf("session %s is unreadable: %w", id, err)
	}
	return &sess, nil
}

func put(tx *journal.Tx, sess *Session, evType string) error {
	sess.Total = sess.TotalCents.String()
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	if err := tx.Put(journal.BucketSessions, sess.ID, data); err != nil {
		return err
	}
	_, err = tx.Append(journal.Event{Type: evType, SessionID: sess.ID, Data: data})
	return err
}

func storageErr(err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return &Error{Code: "journal.unavailable", Kind: KindInternal, Err: err,
		Message: "Não foi possível registrar a operação. Chame o atendente."}
}
