// Package ticket lays out what the kiosk prints, in ESC/POS for a printer profile: the
// customer's ticket (header, big ticket number, items, total, payment details, date and time,
// a code of the session id, footer) and copies of TEF receipts. pt-BR formats throughout.
package ticket

import (
	"errors"
	"fmt"
	"image"
	_ "image/png" // logos
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/totemd/totemd/internal/config"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/printer/escpos"
	"github.com/totemd/totemd/printer/profile"
)

// Layout is the `printer.ticket` section: what surrounds the ticket number.
type Layout struct {
	// Header lines, centred, the first in bold (name, address, CNPJ...).
	Header []string `yaml:"header"`
	// Footer lines, centred.
	Footer []string `yaml:"footer"`
	// Logo is an optional PNG printed above the header (scaled to the paper, dithered).
	Logo string `yaml:"logo"`
	// Code is what encodes the session id at the bottom: qr (default), code128 or none.
	Code string `yaml:"code"`
	// Title above the ticket number. Default "SENHA".
	Title string `yaml:"title"`
	// Timezone for the printed date and time. Default America/Sao_Paulo.
	Timezone string `yaml:"timezone"`
}

// DefaultLayout returns the defaults.
func DefaultLayout() Layout {
	return Layout{Code: "qr", Title: "SENHA", Timezone: "America/Sao_Paulo"}
}

// Validate checks the section; the logo must be a readable PNG.
func (l Layout) Validate() error {
	var errs []error
	if l.Code != "qr" && l.Code != "code128" && l.Code != "none" {
		errs = append(errs, config.Errorf("code", "%q: use qr, code128 or none", l.Code))
	}
	if _, err := time.LoadLocation(l.Timezone); err != nil || l.Timezone == "" {
		errs = append(errs, config.Errorf("timezone", "%q is not a time zone; use an IANA name like America/Sao_Paulo", l.Timezone))
	}
	for i, h := range append(append([]string{}, l.Header...), l.Footer...) {
		if utf8.RuneCountInString(h) > 64 {
			errs = append(errs, config.Errorf("header", "line %d is longer than 64 characters: it would wrap on the paper", i+1))
		}
	}
	if l.Logo != "" {
		if _, err := LoadLogo(l.Logo); err != nil {
			errs = append(errs, config.Errorf("logo", "%v", err))
		}
	}
	return errors.Join(errs...)
}

// LoadLogo reads a PNG logo.
func LoadLogo(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable PNG: %w", path, err)
	}
	return img, nil
}

// Printer is what layouts need of the model.
type Printer = profile.Profile

// Customer lays out the customer's ticket. logo may be nil.
func Customer(p Printer, l Layout, t payment.Ticket, logo image.Image) ([]byte, error) {
	loc, err := time.LoadLocation(l.Timezone)
	if err != nil {
		loc = time.UTC
	}
	e := escpos.NewEncoder(p.Charset())
	e.Init()
	e.SetAlign(escpos.Center)
	if logo != nil {
		mode := escpos.Raster
		if !p.Raster {
			mode = escpos.Column
		}
		e.Image(logo, mode, p.Dots*2/3)
		e.LF()
	}
	header(e, l.Header, p.Columns)
	if t.Reprint {
		e.Bold(true)
		e.Line("*** 2ª VIA ***")
		e.Bold(false)
	}
	e.LF()
	title := l.Title
	if title == "" {
		title = "SENHA"
	}
	e.Line(title)
	e.Size(4, 4)
	e.Bold(true)
	e.Line(t.Number)
	e.Size(1, 1)
	e.Bold(false)
	e.LF()

	cols := p.Columns
	e.SetAlign(escpos.Left)
	e.Line(strings.Repeat("-", cols))
	for _, it := range t.Items {
		left := it.Name
		if it.Qty > 1 {
			left = fmt.Sprintf("%dx %s", it.Qty, it.Name)
		}
		e.Line(twoCols(left, moneyShort(it.Total()), cols))
	}
	e.Line(strings.Repeat("-", cols))
	e.Bold(true)
	e.Line(twoCols("TOTAL", moneyShort(t.Total), cols))
	e.Bold(false)
	e.LF()

	paid := t.PaidAt
	if paid.IsZero() {
		paid = time.Now()
	}
	e.Line(twoCols("Pagamento", methodName(t.Method), cols))
	switch {
	case t.Pix != nil && t.Pix.E2EID != "":
		e.Line("Pix E2E ID:")
		e.Line(t.Pix.E2EID)
	case t.Card != nil:
		c := t.Card
		if c.Brand != "" || c.Network != "" {
			e.Line(twoCols("Cartão", strings.TrimSpace(c.Brand+" "+c.Network), cols))
		}
		if c.MaskedPAN != "" {
			e.Line(twoCols("Número", c.MaskedPAN, cols))
		}
		if c.NSU != "" {
			e.Line(twoCols("NSU", c.NSU, cols))
		}
		if c.AuthCode != "" {
			e.Line(twoCols("Autorização", c.AuthCode, cols))
		}
		if c.Installments > 1 {
			e.Line(twoCols("Parcelas", fmt.Sprint(c.Installments), cols))
		}
	}
	e.Line(twoCols("Data", paid.In(loc).Format("02/01/2006 15:04:05"), cols))
	if t.Card != nil && len(t.Card.CustomerReceipt) > 0 {
		e.LF()
		e.Line(strings.Repeat("=", cols))
		receiptLines(e, t.Card.CustomerReceipt, cols)
		e.Line(strings.Repeat("=", cols))
	}
	e.LF()
	e.SetAlign(escpos.Center)
	switch l.Code {
	case "qr", "":
		if p.NativeQR {
			e.QR(t.SessionID, qrModule(p), 'M')
		} else {
			e.QRImage(t.SessionID, qrModule(p))
		}
		e.Line(t.SessionID)
	case "code128":
		if p.Barcodes {
			e.Barcode(escpos.CODE128, t.SessionID, 80, 2, escpos.HRIBelow)
		} else {
			e.Line(t.SessionID)
		}
	}
	for _, f := range l.Footer {
		for _, w := range wordWrap(f, p.Columns) {
			e.Line(w)
		}
	}
	finish(e, p)
	return e.Bytes(), e.Err()
}

// header prints the header lines centred, the first in bold, wrapped at words to the paper.
func header(e *escpos.Encoder, lines []string, cols int) {
	for i, h := range lines {
		e.Bold(i == 0)
		for _, w := range wordWrap(h, cols) {
			e.Line(w)
		}
	}
	e.Bold(false)
}

// wordWrap breaks s into lines of at most cols characters, at spaces where it can.
func wordWrap(s string, cols int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		for utf8.RuneCountInString(w) > cols { // a word longer than the paper
			if line != "" {
				out, line = append(out, line), ""
			}
			r := []rune(w)
			out, w = append(out, string(r[:cols])), string(r[cols:])
		}
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= cols:
			line += " " + w
		default:
			out, line = append(out, line), w
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}

// Receipt lays out a TEF receipt copy (customer or merchant) on its own: lines of at most 40
// columns as the TEF manager sent them, centred on wider paper.
func Receipt(p Printer, lines []string, title string) ([]byte, error) {
	e := escpos.NewEncoder(p.Charset())
	e.Init()
	e.SetAlign(escpos.Center)
	if title != "" {
		e.Bold(true)
		e.Line(title)
		e.Bold(false)
	}
	e.SetAlign(escpos.Left)
	receiptLines(e, lines, p.Columns)
	finish(e, p)
	return e.Bytes(), e.Err()
}

// receiptLines prints TEF receipt lines (<= 40 columns), in font B when font A is narrower.
func receiptLines(e *escpos.Encoder, lines []string, cols int) {
	font := escpos.FontA
	if cols < 40 {
		font = escpos.FontB
	}
	e.SetFont(font)
	for _, l := range lines {
		r := []rune(strings.TrimRight(l, " "))
		if len(r) > 40 {
			r = r[:40]
		}
		e.Line(string(r))
	}
	e.SetFont(escpos.FontA)
}

// finish feeds, cuts and presents.
func finish(e *escpos.Encoder, p Printer) {
	e.Feed(p.FeedBeforeCut)
	e.Cut(p.PartialCut, 0)
	if len(p.Present) > 0 {
		e.Raw(p.Present)
	}
}

// twoCols puts left and right on one line of cols characters, cutting left if needed.
func twoCols(left, right string, cols int) string {
	room := cols - utf8.RuneCountInString(right) - 1
	if room < 1 {
		return right
	}
	l := []rune(left)
	if len(l) > room {
		l = l[:room]
	}
	return string(l) + strings.Repeat(" ", cols-len(l)-utf8.RuneCountInString(right)) + right
}

// moneyShort is "R$ 1.234,56".
func moneyShort(m payment.Money) string { return m.String() }

func methodName(m payment.Method) string {
	switch m {
	case payment.MethodPix:
		return "Pix"
	case payment.MethodCredit:
		return "Crédito"
	case payment.MethodDebit:
		return "Débito"
	}
	return string(m)
}

// PixSlip is a Pix charge on paper: amount, the BR Code as a QR and its copia-e-cola text, and
// until when it can be paid (for customers who pay from the paper, or at a counter).
func PixSlip(p Printer, l Layout, amount payment.Money, brcode string, expires time.Time) ([]byte, error) {
	loc, err := time.LoadLocation(l.Timezone)
	if err != nil {
		loc = time.UTC
	}
	e := escpos.NewEncoder(p.Charset())
	e.Init()
	e.SetAlign(escpos.Center)
	header(e, l.Header, p.Columns)
	e.Bold(true)
	e.LF()
	e.Line("PAGUE COM PIX")
	e.Size(2, 2)
	e.Line(amount.String())
	e.Size(1, 1)
	e.Bold(false)
	e.LF()
	if p.NativeQR {
		e.QR(brcode, qrModule(p), 'M')
	} else {
		e.QRImage(brcode, qrModule(p))
	}
	e.LF()
	e.Line("Pix copia e cola:")
	e.SetAlign(escpos.Left)
	e.SetFont(escpos.FontB)
	for _, chunk := range wrap(brcode, p.ColumnsB) {
		e.Line(chunk)
	}
	e.SetFont(escpos.FontA)
	e.SetAlign(escpos.Center)
	if !expires.IsZero() {
		e.LF()
		e.Line("Válido até " + expires.In(loc).Format("02/01/2006 15:04"))
	}
	finish(e, p)
	return e.Bytes(), e.Err()
}

// TestPage is what `totemd printer test` prints: accents in the selected code page, styles,
// a QR code, a barcode and the profile's facts.
func TestPage(p Printer) ([]byte, error) {
	t := p.Charset()
	e := escpos.NewEncoder(t)
	e.Init()
	e.SetAlign(escpos.Center)
	e.Size(2, 2)
	e.Line("TESTE")
	e.Size(1, 1)
	e.Line("totemd - página de teste")
	e.LF()
	e.SetAlign(escpos.Left)
	e.Line(fmt.Sprintf("Perfil: %s", p.Name))
	e.Line(fmt.Sprintf("Papel: %d mm, %d pontos, %d colunas", p.WidthMM, p.Dots, p.Columns))
	e.Line(fmt.Sprintf("Tabela: %s (slot %d)", t.Charset, t.Slot))
	e.LF()
	e.Line("Acentos: ÁÉÍÓÚ áéíóú ÂÊÔ âêô ÃÕ ãõ Çç À à Üü")
	e.Line("Ação São João Paço Coração Pão")
	e.Line("Símbolos: R$ 1.234,56  nº 7  50% ª º")
	e.Line(strings.Repeat("1234567890", (p.Columns+9)/10)[:p.Columns])
	e.Bold(true)
	e.Line("Negrito")
	e.Bold(false)
	e.Underline(1)
	e.Line("Sublinhado")
	e.Underline(0)
	e.Inverse(true)
	e.Line(" Invertido ")
	e.Inverse(false)
	e.SetFont(escpos.FontB)
	e.Line("Fonte B: " + strings.Repeat("x", p.ColumnsB-9))
	e.SetFont(escpos.FontA)
	e.Size(2, 1)
	e.Line("Largura dupla")
	e.Size(1, 1)
	e.LF()
	e.SetAlign(escpos.Center)
	if p.NativeQR {
		e.QR("https://totemd.example/teste", qrModule(p), 'M')
	} else {
		e.QRImage("https://totemd.example/teste", qrModule(p))
	}
	if p.Barcodes {
		e.LF()
		e.Barcode(escpos.CODE128, "TOTEMD-123", 60, 2, escpos.HRIBelow)
	}
	finish(e, p)
	return e.Bytes(), e.Err()
}

func qrModule(p Printer) int {
	if p.Dots <= 384 {
		return 5
	}
	return 6
}

func wrap(s string, cols int) []string {
	var out []string
	r := []rune(s)
	for len(r) > cols {
		out = append(out, string(r[:cols]))
		r = r[cols:]
	}
	return append(out, string(r))
}

// SampleBRCode is the Pix code on the sample: a dynamic BR Code of a fictitious PSP.
func SampleBRCode() string {
	code, err := pix.EncodeDynamic(pix.Dynamic{Location: "pix.example.com/qr/v2/9d36b84fc70b478fb95c12729b90ca25",
		MerchantName: "Clínica Demonstração", MerchantCity: "São Paulo", AmountCents: 16000})
	if err != nil {
		panic(err) // fixed input
	}
	return code
}

// SampleTicket is the fixed ticket of `totemd printer sample` and of the golden files.
func SampleTicket() payment.Ticket {
	return payment.Ticket{Number: "A042", SessionID: "01M83K07F9FZP42D3M8WK1QM68", Method: payment.MethodPix,
		Items: []payment.Item{{SKU: "CONSULTA", Name: "Consulta clínica", UnitCents: 15000, Qty: 1},
			{SKU: "TAXA", Name: "Taxa de atendimento", UnitCents: 500, Qty: 2}},
		Total: 16000, PaidAt: time.Date(2026, 11, 23, 17, 30, 5, 0, time.UTC),
		Pix: &payment.PixData{E2EID: "E12345678202611231730ABCDEFGHIJK"}}
}

// SampleLayout is the layout of the sample.
func SampleLayout() Layout {
	l := DefaultLayout()
	l.Header = []string{"CLÍNICA DEMONSTRAÇÃO", "Av. Paulista, 1000 - São Paulo/SP", "CNPJ 11.222.333/0001-81"}
	l.Footer = []string{"Obrigado! Aguarde ser chamado."}
	return l
}

// Sample is a Pix slip followed by the customer's ticket, for the profile.
func Sample(p Printer) ([]byte, error) {
	slip, err := PixSlip(p, SampleLayout(), 16000, SampleBRCode(), time.Date(2026, 11, 23, 17, 35, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	tk, err := Customer(p, SampleLayout(), SampleTicket(), nil)
	if err != nil {
		return nil, err
	}
	return append(slip, tk...), nil
}
