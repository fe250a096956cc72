package tefsim

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/totemd/totemd/payment/tef"
)

// Commands.
const (
	cmdATV = "ATV"
	cmdADM = "ADM"
	cmdCRT = "CRT"
	cmdCNC = "CNC"
	cmdCNF = "CNF"
	cmdNCN = "NCN"
)

// Field ids.
const (
	fCommand     = 0
	fRequestID   = 1
	fDocument    = 2
	fAmount      = 3
	fCurrency    = 4
	fStatus      = 9
	fNetwork     = 10
	fTxType      = 11
	fNSU         = 12
	fAuth        = 13
	fHostTS      = 15
	fLocalTS     = 16
	fInstType    = 17
	fInstallment = 18
	fDate        = 22
	fTime        = 23
	fCancelNSU   = 25
	fCancelTS    = 26
	fFinalizacao = 27
	fLines       = 28
	fLine        = 29
	fOperatorMsg = 30
	fCustomerMsg = 31
	fBrand       = 40
	fReducedN    = 710
	fReduced     = 711
	fCustomerN   = 712
	fCustomer    = 713
	fMerchantN   = 714
	fMerchant    = 715
	fConfirm     = 729
	fCardType    = 731
	fMaskedCard  = 740
)

// Formats of dates and times in messages.
const (
	layoutTS   = "0201150405" // DDMMhhmmss
	layoutDate = "02012006"   // DDMMYYYY
	layoutTime = "150405"     // hhmmss
)

// maskedCard is the card every simulated customer holds.
const maskedCard = "************1234"

// replier is how a transport answers one request.
type replier interface {
	// status sends the status message.
	status(m *tef.Message) error
	// respond sends the response.
	respond(m *tef.Message) error
	// lose is scenario ,54: the approved response m never reaches the automation.
	lose(m *tef.Message) error
	name() string
}

// handle runs one request to its end. It returns false when the transport must stop serving
// its peer (the TCP connection is to be closed: a lost answer, a failed write, the GP down).
func (s *Sim) handle(ctx context.Context, req *tef.Message, r replier) bool {
	cmd := strings.ToUpper(strings.TrimSpace(req.Command()))
	id := req.RequestID()
	if !validID(id) {
		s.log.Warn("tefsim: request without a usable 001-000 (1 to 10 digits): not answered", "transport", r.name(),
			"command", cut(cmd), "id", cut(id))
		return true
	}
	log := s.log.With("transport", r.name(), "command", cut(cmd), "id", id)
	switch cmd {
	case cmdATV, cmdADM, cmdCRT, cmdCNC, cmdCNF, cmdNCN:
	default:
		log.Warn("tefsim: unknown command: not answered")
		return true
	}
	var amount int64
	var amountErr error
	if cmd == cmdCRT {
		amount, amountErr = requestAmount(req)
		if amountErr == nil && amount%100 == 53 {
			log.Info("tefsim: scenario ,53: the GP never answers", "amount", amount)
			return true
		}
	}
	if !sleep(ctx, s.o.StatusDelay) {
		return false
	}
	if cmd == cmdCNF || cmd == cmdNCN {
		s.resolve(cmd, req, log)
	}
	if err := r.status(statusMessage(cmd, id)); err != nil {
		log.Warn("tefsim: sending the status", "err", err)
		return false
	}
	switch cmd {
	case cmdATV:
		return s.send(r, log, reply(cmdATV, id, "0"))
	case cmdADM:
		if !s.takePINPad(ctx) {
			return false
		}
		defer s.releasePINPad()
		return s.send(r, log, s.adminReport(id))
	case cmdCRT:
		return s.sale(ctx, req, id, amount, amountErr, r, log)
	case cmdCNC:
		return s.cancel(ctx, req, id, r, log)
	}
	return true
}

func (s *Sim) send(r replier, log *slog.Logger, m *tef.Message) bool {
	if err := r.respond(m); err != nil {
		log.Warn("tefsim: sending the response", "err", err)
		return false
	}
	return true
}

// requestAmount reads 003-000: a positive amount, or an error.
func requestAmount(req *tef.Message) (int64, error) {
	c, ok, err := req.Amount(fAmount)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, fmt.Errorf("no 003-000")
	case c <= 0:
		return 0, fmt.Errorf("amount %d", c)
	}
	return c, nil
}

// newMsg starts a message: command and the request's id, echoed as it came.
func newMsg(cmd, id string) *tef.Message {
	m := tef.New(cmd, 0)
	m.Set(fRequestID, 0, id)
	return m
}

// validID reports whether a 001-000 is usable: 1 to 10 digits.
func validID(id string) bool {
	if id == "" || len(id) > 10 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// cut shortens what a peer sent for a log line.
func cut(v string) string {
	if len(v) > 40 {
		return v[:40] + "..."
	}
	return v
}

// statusMessage is the acknowledgement of a request: same command and id, 009-000 = 0.
func statusMessage(cmd string, id string) *tef.Message {
	return reply(cmd, id, "0")
}

// reply starts an answer: command, id and 009-000.
func reply(cmd string, id string, code string) *tef.Message {
	m := newMsg(cmd, id)
	m.Set(fStatus, 0, code)
	return m
}

// refusal is a response that is not an approval.
func refusal(req *tef.Message, id string, code, operator, customer string) *tef.Message {
	m := newMsg(strings.ToUpper(strings.TrimSpace(req.Command())), id)
	m.Set(fDocument, 0, echoDocument(req))
	m.Set(fStatus, 0, code)
	m.Set(fOperatorMsg, 0, operator)
	m.Set(fCustomerMsg, 0, customer)
	return m
}

// pendingRefusal refuses a sale or a cancellation while tx is pending. It carries the pending
// transaction's 010, 012, 027 and 003, so an automation that never got that approval can undo it.
func pendingRefusal(req *tef.Message, id string, tx Tx) *tef.Message {
	m := refusal(req, id, CodePending, "TRANSACAO PENDENTE", "EXISTE TRANSACAO PENDENTE")
	m.Set(fNetwork, 0, tx.Network)
	m.Set(fNSU, 0, tx.NSU)
	m.Set(fFinalizacao, 0, tx.Finalizacao)
	m.Set(fAmount, 0, tef.FormatAmount(tx.AmountCents))
	return m
}

// firstPending returns the oldest pending transaction.
func (s *Sim) firstPending() (Tx, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.led.pending()
	if len(p) == 0 {
		return Tx{}, false
	}
	return *p[0], true
}

// sale is a CRT after its status.
func (s *Sim) sale(ctx context.Context, req *tef.Message, id string, amount int64, amountErr error, r replier, log *slog.Logger) bool {
	if !s.takePINPad(ctx) {
		return false
	}
	defer s.releasePINPad()
	resp, lost, _ := s.runSale(ctx, req, id, amount, amountErr, s.o.PINPadDelay, log)
	switch {
	case resp == nil:
		return false
	case lost:
		if err := r.lose(resp); err != nil {
			log.Warn("tefsim: leaving the truncated response", "err", err)
		}
		return false
	}
	return s.send(r, log, resp)
}

// runSale decides a CRT (the caller holds the PIN pad) after the PIN pad delay and records an
// approval. It returns the response, whether it is to be lost (,54), and the transaction
// recorded (zero if none); a nil response when ctx ended first.
func (s *Sim) runSale(ctx context.Context, req *tef.Message, id string, amount int64, amountErr error, delay time.Duration, log *slog.Logger) (resp *tef.Message, lost bool, tx Tx) {
	if amountErr != nil {
		log.Warn("tefsim: sale without a usable amount: refused", "err", amountErr)
		return refusal(req, id, CodeInvalid, "VALOR INVALIDO", "VALOR INVALIDO"), false, Tx{}
	}
	if p, ok := s.firstPending(); ok {
		log.Info("tefsim: sale refused: a transaction is pending", "pending_nsu", p.NSU)
		return pendingRefusal(req, id, p), false, Tx{}
	}
	if !sleep(ctx, delay) {
		return nil, false, Tx{}
	}
	switch amount % 100 {
	case 51:
		log.Info("tefsim: scenario ,51: declined", "amount", amount)
		m := refusal(req, id, CodeDeclined, "TRANSACAO NEGADA", "NAO AUTORIZADA. CONSULTE O EMISSOR")
		m.Set(fNetwork, 0, s.o.Network)
		return m, false, Tx{}
	case 52:
		log.Info("tefsim: scenario ,52: cancelled on the PIN pad", "amount", amount)
		return refusal(req, id, CodeCancelled, "OPERACAO CANCELADA", "OPERACAO CANCELADA PELO CLIENTE"), false, Tx{}
	}
	confirm := amount%100 != 55 && amount%100 != 56
	charged := amount
	if amount%100 == 56 {
		charged-- // a partial approval (a voucher's balance, say): one centavo less than asked
		log.Info("tefsim: scenario ,56: approved for another amount, confirmed by the GP itself", "asked", amount, "charged", charged)
	}
	tx, err := s.approve(req, id, charged, confirm)
	if err != nil && tx.NSU == "" {
		log.Error("tefsim: recording the approval", "err", err)
		return refusal(req, id, CodeInvalid, "ERRO NO GERENCIADOR", "TRANSACAO NAO REALIZADA"), false, Tx{}
	}
	if err != nil {
		log.Error("tefsim: saving the ledger (the approval stands)", "err", err)
	}
	log.Info("tefsim: approved", "amount", amount, "nsu", tx.NSU, "state", tx.State)
	resp = s.saleResponse(req, id, tx, confirm)
	if amount%100 == 54 {
		log.Info("tefsim: scenario ,54: the approval is lost on its way", "nsu", tx.NSU)
		return resp, true, tx
	}
	return resp, false, tx
}

// approve records an approved sale.
func (s *Sim) approve(req *tef.Message, id string, amount int64, confirm bool) (Tx, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	nsu, err := s.led.newNSU()
	if err != nil {
		return Tx{}, err
	}
	for _, t := range s.led.Txs {
		if t.RequestID == id {
			s.log.Warn("tefsim: a sale reuses the request id of an earlier one", "id", id, "earlier_nsu", t.NSU)
			break
		}
	}
	tx := &Tx{
		Network: s.o.Network, NSU: nsu, Document: echoDocument(req), AmountCents: amount,
		State: StatePending, Approved: now, RequestID: id, Authorization: randDigits(6),
		Timestamp: now.Format(layoutTS),
	}
	tx.Finalizacao = fmt.Sprintf("TSIM%s.%s.%s", now.Format("060102150405"), nsu, randHex(4))
	if !confirm {
		tx.State, tx.Resolved = StateConfirmed, now
	}
	s.led.Txs = append(s.led.Txs, tx)
	return *tx, s.led.save()
}

// saleResponse is the response of an approved sale.
func (s *Sim) saleResponse(req *tef.Message, id string, tx Tx, confirm bool) *tef.Message {
	credit := req.Value(fCardType, 0) != "2" && req.Value(fCardType, 0) != "3"
	txType, kind := "20", "DEBITO"
	if credit {
		txType, kind = "10", "CREDITO"
	}
	instType := req.Value(fInstType, 0)
	n, _ := strconv.Atoi(req.Value(fInstallment, 0))
	plan := "A VISTA"
	if credit && n > 1 && n <= 99 {
		if instType == "1" {
			txType, plan = "12", fmt.Sprintf("PARCELADO EMISSOR %dX", n)
		} else {
			instType, txType, plan = "0", "11", fmt.Sprintf("PARCELADO LOJA %dX", n)
		}
	} else {
		n = 0
	}
	m := newMsg(cmdCRT, id)
	m.Set(fDocument, 0, tx.Document)
	m.Set(fAmount, 0, tef.FormatAmount(tx.AmountCents))
	m.Set(fCurrency, 0, "0")
	m.Set(fStatus, 0, "0")
	m.Set(fNetwork, 0, tx.Network)
	m.Set(fTxType, 0, txType)
	m.Set(fNSU, 0, tx.NSU)
	m.Set(fAuth, 0, tx.Authorization)
	m.Set(fHostTS, 0, tx.Timestamp)
	m.Set(fLocalTS, 0, tx.Timestamp)
	if n > 0 {
		m.Set(fInstType, 0, instType)
		m.Set(fInstallment, 0, strconv.Itoa(n))
	}
	m.Set(fDate, 0, tx.Approved.Format(layoutDate))
	m.Set(fTime, 0, tx.Approved.Format(layoutTime))
	m.Set(fFinalizacao, 0, tx.Finalizacao)
	body := []string{
		center(s.o.Network + " - " + s.o.Brand),
		"",
		pair("VALOR:", "R$ "+brl(tx.AmountCents)),
		kind + " " + plan,
		s.o.Brand + " " + maskedCard,
		pair("NSU: "+tx.NSU, "AUT: "+tx.Authorization),
		pair(tx.Approved.Format("02/01/2006 15:04:05"), "DOC: "+clip(asciiOnly(tx.Document), 12)),
		"TRANSACAO AUTORIZADA MEDIANTE",
		"USO DE SENHA PESSOAL.",
	}
	head := []string{center("TOTEMD DEMO"), center("COMPROVANTE DE " + kind)}
	setLines(m, fLines, fLine, append(head, body...))
	m.Set(fOperatorMsg, 0, "TRANSACAO APROVADA")
	m.Set(fCustomerMsg, 0, "TRANSACAO APROVADA")
	m.Set(fBrand, 0, s.o.Brand)
	setLines(m, fReducedN, fReduced, []string{
		s.o.Network + " " + s.o.Brand + " " + kind,
		pair("NSU: "+tx.NSU, "AUT: "+tx.Authorization),
		pair("VALOR:", "R$ "+brl(tx.AmountCents)),
	})
	setLines(m, fCustomerN, fCustomer, append(append(slicesClone(head), center("VIA CLIENTE")), body...))
	setLines(m, fMerchantN, fMerchant, append(append(slicesClone(head), center("VIA ESTABELECIMENTO")), body...))
	if confirm {
		m.Set(fConfirm, 0, "2")
	} else {
		m.Set(fConfirm, 0, "1")
	}
	m.Set(fMaskedCard, 0, maskedCard)
	return m
}

// resolve applies a CNF or NCN to the ledger, once.
func (s *Sim) resolve(cmd string, req *tef.Message, log *slog.Logger) {
	network, nsu, fin := req.Value(fNetwork, 0), req.Value(fNSU, 0), req.Value(fFinalizacao, 0)
	log = log.With("network", network, "nsu", nsu)
	amount, hasAmount, amountErr := req.Amount(fAmount)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := s.led.find(network, nsu, fin)
	switch {
	case tx == nil:
		log.Warn("tefsim: " + cmd + " for an unknown transaction (network, NSU and finalização must match): ignored")
		return
	case amountErr != nil || (hasAmount && amount != tx.AmountCents):
		log.Warn("tefsim: "+cmd+" with another amount than the transaction's: ignored", "amount", req.Value(fAmount, 0),
			"tx_amount", tx.AmountCents)
		return
	case tx.State != StatePending:
		log.Warn("tefsim: "+cmd+" for a transaction already resolved: ignored", "state", tx.State)
		return
	}
	if cmd == cmdCNF {
		tx.State = StateConfirmed
	} else {
		tx.State = StateUndone
	}
	tx.Resolved = now
	if err := s.led.save(); err != nil {
		log.Error("tefsim: saving the ledger", "err", err)
	}
	log.Info("tefsim: transaction "+tx.State, "amount", tx.AmountCents)
}

// cancel is a CNC after its status.
func (s *Sim) cancel(ctx context.Context, req *tef.Message, id string, r replier, log *slog.Logger) bool {
	if !s.takePINPad(ctx) {
		return false
	}
	defer s.releasePINPad()
	if tx, ok := s.firstPending(); ok {
		log.Info("tefsim: cancellation refused: a transaction is pending", "pending_nsu", tx.NSU)
		return s.send(r, log, pendingRefusal(req, id, tx))
	}
	nsu := req.Value(fCancelNSU, 0)
	amount, hasAmount, amountErr := req.Amount(fAmount)
	if nsu == "" || amountErr != nil || (hasAmount && amount <= 0) {
		log.Warn("tefsim: cancellation without a usable 025-000 or 003-000: refused")
		return s.send(r, log, refusal(req, id, CodeInvalid, "DADOS INVALIDOS", "OPERACAO NAO REALIZADA"))
	}
	if !sleep(ctx, s.o.PINPadDelay) {
		return false
	}
	network, ts := req.Value(fNetwork, 0), req.Value(fCancelTS, 0)
	now := s.now()
	orig, cnsu, refused, err := s.cancelSale(network, nsu, ts, amount, hasAmount, now)
	switch {
	case refused != "":
		log.Info("tefsim: cancellation refused", "reason", refused, "nsu", nsu, "timestamp", ts)
		return s.send(r, log, refusal(req, id, CodeNotFound, refused, "OPERACAO NAO REALIZADA"))
	case cnsu == "":
		log.Error("tefsim: recording the cancellation", "err", err)
		return s.send(r, log, refusal(req, id, CodeInvalid, "ERRO NO GERENCIADOR", "OPERACAO NAO REALIZADA"))
	case err != nil:
		log.Error("tefsim: saving the ledger (the cancellation stands)", "err", err)
	}
	log.Info("tefsim: sale cancelled", "nsu", orig.NSU, "cancel_nsu", cnsu, "amount", orig.AmountCents)
	m := newMsg(cmdCNC, id)
	m.Set(fDocument, 0, echoDocument(req))
	m.Set(fAmount, 0, tef.FormatAmount(orig.AmountCents))
	m.Set(fCurrency, 0, "0")
	m.Set(fStatus, 0, "0")
	m.Set(fNetwork, 0, orig.Network)
	m.Set(fNSU, 0, cnsu)
	m.Set(fAuth, 0, randDigits(6))
	m.Set(fHostTS, 0, now.Format(layoutTS))
	m.Set(fLocalTS, 0, now.Format(layoutTS))
	m.Set(fDate, 0, now.Format(layoutDate))
	m.Set(fTime, 0, now.Format(layoutTime))
	m.Set(fCancelNSU, 0, orig.NSU)
	m.Set(fCancelTS, 0, orig.Timestamp)
	m.Set(fFinalizacao, 0, fmt.Sprintf("TSIM%s.%s.%s", now.Format("060102150405"), cnsu, randHex(4)))
	setLines(m, fLines, fLine, []string{
		center("TOTEMD DEMO"),
		center("CANCELAMENTO"),
		"",
		pair("VALOR CANCELADO:", "R$ "+brl(orig.AmountCents)),
		orig.Network + " " + s.o.Brand + " " + maskedCard,
		pair("NSU CANC.: "+cnsu, "NSU ORIG.: "+orig.NSU),
		now.Format("02/01/2006 15:04:05"),
	})
	m.Set(fOperatorMsg, 0, "CANCELAMENTO APROVADO")
	m.Set(fCustomerMsg, 0, "CANCELAMENTO APROVADO")
	m.Set(fBrand, 0, s.o.Brand)
	m.Set(fConfirm, 0, "1")
	m.Set(fMaskedCard, 0, maskedCard)
	return s.send(r, log, m)
}

// cancelSale cancels the confirmed sale a CNC names (network, timestamp and amount are
// checked when given). It returns the sale and the cancellation's NSU; refused is the
// operator message when no confirmed sale matches; err a failure to record it (with cnsu
// set, the cancellation stands but the ledger file was not written).
func (s *Sim) cancelSale(network, nsu, ts string, amount int64, hasAmount bool, now time.Time) (orig Tx, cnsu, refused string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tx *Tx
	for _, t := range s.led.Txs {
		if t.NSU == nsu && (network == "" || t.Network == network) && (ts == "" || t.Timestamp == ts) &&
			(!hasAmount || t.AmountCents == amount) && (t.State == StateConfirmed || t.State == StateCancelled) {
			tx = t
			break
		}
	}
	switch {
	case tx == nil:
		return Tx{}, "", "TRANSACAO NAO ENCONTRADA", nil
	case tx.State == StateCancelled:
		return *tx, "", "TRANSACAO JA CANCELADA", nil
	}
	if cnsu, err = s.led.newNSU(); err != nil {
		return *tx, "", "", err
	}
	s.led.CancelNSUs = append(s.led.CancelNSUs, cnsu)
	tx.State, tx.Resolved = StateCancelled, now
	return *tx, cnsu, "", s.led.save()
}

// adminReport is the ADM response: a report of the ledger as receipt lines.
func (s *Sim) adminReport(id string) *tef.Message {
	now := s.now()
	count := map[string]int{}
	s.mu.Lock()
	for _, t := range s.led.Txs {
		count[t.State]++
	}
	s.mu.Unlock()
	m := reply(cmdADM, id, "0")
	m.Set(fNetwork, 0, s.o.Network)
	setLines(m, fLines, fLine, []string{
		center("TEFSIM - RELATORIO"),
		now.Format("02/01/2006 15:04:05"),
		pair("CONFIRMADAS:", strconv.Itoa(count[StateConfirmed])),
		pair("PENDENTES:", strconv.Itoa(count[StatePending])),
		pair("DESFEITAS:", strconv.Itoa(count[StateUndone])),
		pair("CANCELADAS:", strconv.Itoa(count[StateCancelled])),
	})
	m.Set(fOperatorMsg, 0, "OPERACAO CONCLUIDA")
	m.Set(fConfirm, 0, "1")
	return m
}

// receiptWidth is the number of columns of a receipt line.
const receiptWidth = 40

// setLines writes a receipt: the count in countID-000 and the lines in lineID-001.. . A line
// that is empty, starts or ends with a space or shows an amount is wrapped in double quotes
// (the automation strips one leading and one trailing quote), as managers do.
func setLines(m *tef.Message, countID, lineID int, lines []string) {
	m.Set(countID, 0, strconv.Itoa(len(lines)))
	for i, l := range lines {
		l = clip(l, receiptWidth)
		if l == "" || l[0] == ' ' || l[len(l)-1] == ' ' || strings.Contains(l, "R$") {
			l = `"` + l + `"`
		}
		m.Set(lineID, i+1, l)
	}
}

// center pads s with leading spaces to center it on a receipt line.
func center(s string) string {
	s = clip(s, receiptWidth)
	return strings.Repeat(" ", (receiptWidth-len(s))/2) + s
}

// pair puts a on the left and b on the right of a receipt line.
func pair(a, b string) string {
	gap := receiptWidth - len(a) - len(b)
	if gap < 1 {
		gap = 1
	}
	return clip(a+strings.Repeat(" ", gap)+b, receiptWidth)
}

// echoDocument is the request's 002-000 as the answers echo it: as it came when it can be
// written back, else in printable ASCII.
func echoDocument(req *tef.Message) string {
	d := req.Value(fDocument, 0)
	m := tef.New("X", 0)
	m.Set(fDocument, 0, d)
	if _, err := m.Encode(); err != nil {
		return asciiOnly(d)
	}
	return d
}

// asciiOnly replaces what is not printable ASCII by '?'.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// brl formats centavos as Brazilian reais: 123456 -> "1.234,56".
func brl(c int64) string {
	neg := c < 0
	if neg {
		c = -c
	}
	ints := strconv.FormatInt(c/100, 10)
	var b strings.Builder
	for i, d := range ints {
		if i > 0 && (len(ints)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	out := fmt.Sprintf("%s,%02d", b.String(), c%100)
	if neg {
		out = "-" + out
	}
	return out
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func randDigits(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

func randHex(nBytes int) string {
	b := make([]byte, nBytes)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}
