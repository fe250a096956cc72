package ticket

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/printer/profile"
	"github.com/totemd/totemd/printer/virtual"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestSampleGolden keeps the sample ticket's bytes, rendered text and PNG for 58 and 80 mm:
// any change to the layout or the encoder shows here. After a deliberate change:
// go test ./printer/ticket -run Golden -update, and look at the PNGs.
func TestSampleGolden(t *testing.T) {
	for _, name := range []string{"generic-80", "generic-58"} {
		t.Run(name, func(t *testing.T) {
			p, err := profile.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			data, err := Sample(p)
			if err != nil {
				t.Fatal(err)
			}
			r, err := virtual.Render(data, virtual.Options{Dots: p.Dots})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Unknown) > 0 {
				t.Errorf("the virtual printer did not understand: %+v", r.Unknown)
			}
			png, err := r.PNG()
			if err != nil {
				t.Fatal(err)
			}
			for ext, got := range map[string][]byte{".bin": data, ".txt": []byte(r.Text), ".png": png} {
				path := filepath.Join("testdata", "sample-"+name+ext)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (len %d vs %d); if intended, -update and review", path, len(got), len(want))
				}
			}
			// What must be on the paper, whatever the golden files say.
			if len(r.QRs) != 2 || r.QRs[0] != SampleBRCode() || !pix.Decode(r.QRs[0]).Valid || pix.Decode(r.QRs[0]).AmountCents != 16000 ||
				r.QRs[1] != "01M83K07F9FZP42D3M8WK1QM68" {
				t.Errorf("QRs %q", r.QRs)
			}
			for _, want := range []string{"CLÍNICA DEMONSTRAÇÃO", "PAGUE COM PIX", "Consulta clínica", "2x Taxa de atendimento", "R$ 10,00", "E12345678202611231730ABCDEFGHIJK", "23/11/2026 14:30:05", "Válido até 23/11/2026 14:35", "Obrigado! Aguarde ser chamado."} {
				if !strings.Contains(r.Text, want) {
					t.Errorf("sample lacks %q:\n%s", want, r.Text)
				}
			}
			if r.Cuts != 2 {
				t.Errorf("%d cuts, want 2", r.Cuts)
			}
			for _, line := range strings.Split(r.Text, "\n") {
				if strings.HasPrefix(line, "[QR ") {
					continue // the renderer's note of a QR, not paper
				}
				if n := len([]rune(line)); n > p.ColumnsB {
					t.Errorf("line wider than the paper (%d > %d): %q", n, p.ColumnsB, line)
				}
			}
		})
	}
}

func TestLayoutPieces(t *testing.T) {
	p, _ := profile.Get("generic-80")
	cases := []struct {
		name string
		tk   payment.Ticket
		want []string
		not  []string
	}{
		{"card", payment.Ticket{Number: "B007", SessionID: "01M83K07F9FZP42D3M8WK1QM68", Method: payment.MethodCredit, Total: 5000,
			Items: []payment.Item{{SKU: "R", Name: "Retorno", UnitCents: 5000, Qty: 1}}, PaidAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Card: &payment.CardData{Brand: "VISA", Network: "REDE", NSU: "123456", AuthCode: "A1B2C3", MaskedPAN: "************1234",
				Installments: 3, CustomerReceipt: []string{"REDE - VIA CLIENTE", strings.Repeat("y", 50)}}},
			[]string{"Crédito", "VISA REDE", "************1234", "123456", "A1B2C3", "Parcelas", "REDE - VIA CLIENTE", strings.Repeat("y", 40)},
			[]string{strings.Repeat("y", 41)}},
		{"reprint", payment.Ticket{Number: "A001", SessionID: "01M83K07F9FZP42D3M8WK1QM68", Method: payment.MethodPix, Reprint: true,
			Items: []payment.Item{{SKU: "C", Name: "Consulta", UnitCents: 100, Qty: 1}}, Total: 100},
			[]string{"2ª VIA"}, nil},
		{"long name cut to the line", payment.Ticket{Number: "A001", SessionID: "01M83K07F9FZP42D3M8WK1QM68", Method: payment.MethodDebit,
			Items: []payment.Item{{SKU: "C", Name: strings.Repeat("Nome muito longo ", 6), UnitCents: 123456, Qty: 1}}, Total: 123456},
			[]string{"R$ 1.234,56", "Débito"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := Customer(p, DefaultLayout(), c.tk, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := virtual.Render(data, virtual.Options{Dots: p.Dots})
			for _, w := range c.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("lacks %q:\n%s", w, r.Text)
				}
			}
			for _, w := range c.not {
				if strings.Contains(r.Text, w) {
					t.Errorf("has %q", w)
				}
			}
			for _, line := range strings.Split(r.Text, "\n") {
				if len([]rune(line)) > p.ColumnsB {
					t.Errorf("line wider than the paper: %q", line)
				}
			}
		})
	}
	rec, err := Receipt(p, []string{"\"REDE - VIA ESTABELECIMENTO\"", "NSU 123"}, "VIA DO ESTABELECIMENTO")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := virtual.Render(rec, virtual.Options{Dots: p.Dots})
	if !strings.Contains(r.Text, "VIA DO ESTABELECIMENTO") || !strings.Contains(r.Text, "NSU 123") || r.Cuts != 1 {
		t.Errorf("receipt:\n%s", r.Text)
	}
	tp, err := TestPage(p)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = virtual.Render(tp, virtual.Options{Dots: p.Dots})
	if !strings.Contains(r.Text, "Ação São João") || len(r.QRs) != 1 || len(r.Barcodes) != 1 || len(r.Unknown) > 0 {
		t.Errorf("test page:\n%s\nunknown %+v", r.Text, r.Unknown)
	}
}

func TestWordWrap(t *testing.T) {
	cases := []struct {
		in   string
		cols int
		want []string
	}{
		{"Av. Paulista, 1000 - São Paulo/SP", 32, []string{"Av. Paulista, 1000 - São", "Paulo/SP"}},
		{"curto", 32, []string{"curto"}},
		{"", 10, []string{""}},
		{"abcdefghijklmnop xy", 5, []string{"abcde", "fghij", "klmno", "p xy"}},
	}
	for _, c := range cases {
		got := wordWrap(c.in, c.cols)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wordWrap(%q, %d) = %q, want %q", c.in, c.cols, got, c.want)
		}
	}
}
