package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
)

const pixUsage = `usage:
  totemd pix brcode --key K --name N --city C [--amount 12.34] [--txid T] [--info TEXT] [--png FILE] [--size PX]
  totemd pix decode [--json] PAYLOAD
  totemd pix check [--config FILE]
  totemd pix reconcile --since 2026-11-01 [--until DATE] [--config FILE] [--state-dir DIR] [--json]`

func cmdPix(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(pixUsage)}
	}
	switch args[0] {
	case "brcode":
		return cmdPixBRCode(args[1:], stdout)
	case "decode":
		return cmdPixDecode(args[1:], stdout)
	case "check":
		return cmdPixCheck(args[1:], stdout)
	case "reconcile":
		return cmdPixReconcile(args[1:], stdout)
	}
	return &exitError{2, fmt.Errorf("unknown pix command %q\n%s", args[0], pixUsage)}
}

func cmdPixBRCode(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pix brcode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	key := fs.String("key", "", "the receiver's Pix key")
	name := fs.String("name", "", "the receiver's name")
	city := fs.String("city", "", "the receiver's city")
	amount := fs.String("amount", "", "amount in reais, e.g. 12.34 (empty: the payer types it)")
	txid := fs.String("txid", "", "identifier, up to 25 letters and digits")
	info := fs.String("info", "", "free text shown to the payer")
	pngOut := fs.String("png", "", "also write the QR as a PNG to this file")
	size := fs.Int("size", 512, "PNG size in pixels")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("%v\n%s", orUsage(err, fs.Args()), pixUsage)}
	}
	st := pix.Static{Key: *key, Info: *info, MerchantName: *name, MerchantCity: *city, TxID: *txid}
	if *amount != "" {
		m, err := payment.ParseMoney(*amount)
		if err != nil {
			return fmt.Errorf("--amount: %w", err)
		}
		st.AmountCents = int64(m)
	}
	code, err := pix.EncodeStatic(st)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, code)
	if *pngOut != "" {
		png, err := pix.QRPNG(code, *size)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*pngOut, png, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func orUsage(err error, rest []string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected arguments %q", rest)
}

func cmdPixDecode(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pix decode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return &exitError{2, fmt.Errorf("%s", pixUsage)}
	}
	d := pix.Decode(fs.Arg(0))
	if *asJSON {
		if err := printJSON(stdout, d); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(tw, "%s\t%s\n", k, v)
			}
		}
		valid := "sim"
		if !d.Valid {
			valid = "NÃO: " + d.Error
		}
		row("Válido", valid)
		row("Tipo", d.Kind)
		row("Chave", d.Key)
		row("URL", d.URL)
		row("Valor", d.Amount)
		row("Recebedor", d.MerchantName)
		row("Cidade", d.MerchantCity)
		row("CEP", d.PostalCode)
		row("txid", d.TxID)
		row("Informação", d.Info)
		row("CRC", d.CRC)
		_ = tw.Flush()
	}
	if !d.Valid {
		return &exitError{1, errors.New("")}
	}
	return nil
}

// cmdPixCheck tests the configured PSP the way a payment would reach it and reports in pt-BR.
func cmdPixCheck(args []string, stdout io.Writer) error {
	fs, cfgPath, _ := cliFlags("pix check")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return &exitError{2, errors.New(pixUsage)}
	}
	cfg, err := cliConfig(*cfgPath)
	if err != nil {
		return err
	}
	if !cfg.Pix.Enabled() {
		return errors.New("Pix não configurado: preencha a seção pix do arquivo de configuração")
	}
	ok := true
	say := func(good bool, format string, a ...any) {
		mark := "OK  "
		if !good {
			mark, ok = "FALHA", false
		}
		fmt.Fprintf(stdout, "%s %s\n", mark, fmt.Sprintf(format, a...))
	}
	client, err := pix.New(cfg.Pix, pix.Options{})
	if err != nil {
		say(false, "Configuração e certificado: %v", err)
		return &exitError{1, errors.New("")}
	}
	defer client.Close()
	info := pix.Info(client.Certificate())
	days := int(time.Until(info.NotAfter).Hours() / 24)
	say(days > 0, "Certificado do cliente: %s, válido até %s (%d dias)", info.Subject, info.NotAfter.Local().Format("02/01/2006"), days)
	if days > 0 && days < 30 {
		fmt.Fprintf(stdout, "AVISO o certificado expira em menos de 30 dias: peça um novo ao PSP\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := client.Token(ctx); err != nil {
		say(false, "Conexão mTLS e token OAuth2 em %s: %v", client.BaseURL(), err)
		return &exitError{1, errors.New("")}
	}
	say(true, "Conexão mTLS e token OAuth2 em %s (%d ms)", client.BaseURL(), time.Since(start).Milliseconds())
	now := time.Now()
	if _, err := client.ListPix(ctx, now.Add(-time.Hour), now, 0, 1); err != nil {
		say(false, "Consulta de Pix recebidos (GET /pix): %v", err)
	} else {
		say(true, "Consulta de Pix recebidos (GET /pix)")
	}
	if !ok {
		return &exitError{1, errors.New("")}
	}
	return nil
}

// cliConfig loads the config a CLI command names, or the default one.
func cliConfig(path string) (Config, error) {
	if path == "" {
		path = "/etc/totemd/totemd.yaml"
	}
	return loadConfig(path, false)
}

// mismatch is one disagreement between the PSP and the journal.
type mismatch struct {
	Kind    string `json:"kind"`
	TxID    string `json:"txid,omitempty"`
	E2EID   string `json:"e2eid,omitempty"`
	Session string `json:"session_id,omitempty"`
	PSP     string `json:"psp_amount,omitempty"`
	Journal string `json:"journal_amount,omitempty"`
	Detail  string `json:"detail"`
}

// cmdPixReconcile lists the Pix received at the PSP in a period against the journal.
func cmdPixReconcile(args []string, stdout io.Writer) error {
	fs, cfgPath, stateDir := cliFlags("pix reconcile")
	fs.SetOutput(io.Discard)
	since := fs.String("since", "", "first day (YYYY-MM-DD) or RFC 3339 time")
	until := fs.String("until", "", "last moment (default now)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *since == "" {
		return &exitError{2, errors.New(pixUsage)}
	}
	from, err := parseWhen(*since)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	to := time.Now()
	if *until != "" {
		if to, err = parseWhen(*until); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	cfg, err := cliConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
	}
	if !cfg.Pix.Enabled() {
		return errors.New("Pix não configurado: preencha a seção pix do arquivo de configuração")
	}
	client, err := pix.New(cfg.Pix, pix.Options{})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	received, err := client.AllPix(ctx, from, to)
	if err != nil {
		return fmt.Errorf("listing Pix at the PSP: %w", err)
	}
	t, err := resolveTarget(*cfgPath, cfg.StateDir)
	if err != nil {
		return err
	}
	src, note, err := openSessions(t)
	if err != nil {
		return err
	}
	defer src.close()
	sessions, err := src.all(ctx, from.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	report := reconcile(received, sessions, from, to)
	if *asJSON {
		return printJSON(stdout, map[string]any{"from": from, "to": to, "psp_pix": len(received), "mismatches": report})
	}
	if note != "" {
		fmt.Fprintln(stdout, note)
	}
	fmt.Fprintf(stdout, "Pix recebidos no PSP de %s a %s: %d\n", from.Local().Format("02/01/2006 15:04"), to.Local().Format("02/01/2006 15:04"), len(received))
	if len(report) == 0 {
		fmt.Fprintln(stdout, "Nenhuma divergência.")
		return nil
	}
	for _, m := range report {
		fmt.Fprintf(stdout, "DIVERGÊNCIA %s: %s (txid %s, e2eid %s, sessão %s)\n", m.Kind, m.Detail, orDash(m.TxID), orDash(m.E2EID), orDash(m.Session))
	}
	return &exitError{1, errors.New("")}
}

// reconcileRefunds compares the devoluções the PSP lists for a payment with the refund the
// journal recorded for its attempt: a refund the totem counts as made must be DEVOLVIDO at the
// PSP, and money given back outside the totem (the bank's portal) for a sale the totem served
// is flagged, since the customer kept the ticket. (A paid attempt with no refund recorded is
// paid_not_recorded, whose detail names such devoluções.)
func reconcileRefunds(p pix.Pix, sess *payment.Session, a payment.Attempt) []mismatch {
	var out []mismatch
	if a.Pix.Refunded {
		if d := findDevolucao(p, a.Pix.RefundID); d == nil || d.Status != pix.RefundDone {
			status := "ausente"
			if d != nil {
				status = d.Status
			}
			out = append(out, mismatch{Kind: "refund_missing_at_psp", TxID: p.TxID, E2EID: p.EndToEndID, Session: sess.ID, PSP: p.Valor,
				Detail: fmt.Sprintf("o totem registrou a devolução %s como feita, mas no PSP ela está %s", a.Pix.RefundID, status)})
		}
	}
	if a.State == payment.AttemptConcluded || a.Pix.RefundID != "" {
		for _, d := range p.Devolucoes {
			if d.ID == a.Pix.RefundID || d.Status != pix.RefundDone {
				continue
			}
			m := mismatch{Kind: "refund_unknown", TxID: p.TxID, E2EID: p.EndToEndID, Session: sess.ID, PSP: d.Valor,
				Detail: fmt.Sprintf("devolução %s de R$ %s feita no PSP fora do totem (sessão %s)", d.ID, d.Valor, sess.State)}
			if strings.HasPrefix(d.ID, payment.PixRefundID(sess.ID, a.N)) {
				// An earlier try of the totem's own that the journal counts as not made.
				m.Kind = "refund_twice"
				m.Detail = fmt.Sprintf("a devolução %s, que o totem registrou como não realizada, consta DEVOLVIDO no PSP (R$ %s): verifique se o valor foi devolvido duas vezes", d.ID, d.Valor)
			}
			out = append(out, m)
		}
	}
	return out
}

func findDevolucao(p pix.Pix, id string) *pix.Devolucao {
	for i := range p.Devolucoes {
		if p.Devolucoes[i].ID == id {
			return &p.Devolucoes[i]
		}
	}
	return nil
}

// devolvidas lists the payment's devoluções that were made ("id R$ valor").
func devolvidas(p pix.Pix) []string {
	var out []string
	for _, d := range p.Devolucoes {
		if d.Status == pix.RefundDone {
			out = append(out, d.ID+" R$ "+d.Valor)
		}
	}
	return out
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, time.Local)
	if err != nil {
		return t, fmt.Errorf("%q: use YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t, nil
}

// reconcile compares the PSP's payments with the Pix attempts in the journal.
func reconcile(received []pix.Pix, sessions []*payment.Session, from, to time.Time) []mismatch {
	type att struct {
		sess *payment.Session
		a    payment.Attempt
	}
	byTxID := map[string]att{}
	for _, s := range sessions {
		for _, a := range s.Attempts {
			if a.Pix != nil {
				byTxID[a.Pix.TxID] = att{s, a}
			}
		}
	}
	var out []mismatch
	seen := map[string]bool{}
	for _, p := range received {
		seen[p.EndToEndID] = true
		j, ok := byTxID[p.TxID]
		if !ok {
			out = append(out, mismatch{Kind: "unknown_payment", TxID: p.TxID, E2EID: p.EndToEndID, PSP: p.Valor,
				Detail: "pagamento no PSP sem sessão correspondente neste totem"})
			continue
		}
		cents, _ := pix.ParseValor(p.Valor)
		switch {
		case j.a.Pix.E2EID != "" && j.a.Pix.E2EID != p.EndToEndID:
			out = append(out, mismatch{Kind: "e2eid_differs", TxID: p.TxID, E2EID: p.EndToEndID, Session: j.sess.ID,
				Detail: "o totem registrou outro e2eid (" + j.a.Pix.E2EID + ")"})
		case j.a.State != payment.AttemptConcluded && j.a.Pix.RefundID == "":
			detail := fmt.Sprintf("pago no PSP, mas a tentativa está %s e nenhuma devolução foi registrada", j.a.State)
			if d := devolvidas(p); len(d) > 0 {
				detail += "; o PSP mostra devolução feita fora do totem: " + strings.Join(d, ", ")
			}
			out = append(out, mismatch{Kind: "paid_not_recorded", TxID: p.TxID, E2EID: p.EndToEndID, Session: j.sess.ID, PSP: p.Valor,
				Detail: detail})
		case j.a.Pix.RefundID != "" && !j.a.Pix.Refunded:
			detail := "devolução registrada mas ainda não confirmada pelo PSP"
			if d := findDevolucao(p, j.a.Pix.RefundID); d != nil {
				detail = fmt.Sprintf("devolução %s está %s no PSP; o totem ainda não a registrou como feita", d.ID, d.Status)
			}
			out = append(out, mismatch{Kind: "refund_pending", TxID: p.TxID, E2EID: p.EndToEndID, Session: j.sess.ID, PSP: p.Valor,
				Detail: detail})
		case j.a.State == payment.AttemptConcluded && payment.Money(cents) != j.a.Amount:
			out = append(out, mismatch{Kind: "amount_differs", TxID: p.TxID, E2EID: p.EndToEndID, Session: j.sess.ID, PSP: p.Valor,
				Journal: j.a.Amount.Decimal(), Detail: "valor pago difere do valor da sessão"})
		}
		out = append(out, reconcileRefunds(p, j.sess, j.a)...)
	}
	for txid, j := range byTxID {
		e2e := j.a.Pix.E2EID
		if j.a.State != payment.AttemptConcluded || e2e == "" || seen[e2e] {
			continue
		}
		if j.a.Pix.PaidAt.Before(from) || j.a.Pix.PaidAt.After(to) {
			continue
		}
		out = append(out, mismatch{Kind: "missing_at_psp", TxID: txid, E2EID: e2e, Session: j.sess.ID, Journal: j.a.Amount.Decimal(),
			Detail: "o totem registrou o pagamento, mas o PSP não o lista no período"})
	}
	return out
}
