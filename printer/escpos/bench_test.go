package escpos

import "testing"

// pixPayload is shaped like a static Pix "copia e cola" payload (EMV BR Code;
// its CRC is not checked here), 117 bytes.
const pixPayload = "00020126360014BR.GOV.BCB.PIX0114+55119999999995204000053039865406" +
	"12.505802BR5905TOTEM6009SAO PAULO62070503***6304B1F4"

func BenchmarkQRNative(b *testing.B) {
	var n int
	for b.Loop() {
		e := NewEncoder(Table{Charset: CP860, Slot: 3})
		e.QR(pixPayload, 6, QRLevelM)
		if e.Err() != nil {
			b.Fatal(e.Err())
		}
		n = e.Len()
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkQRImage(b *testing.B) {
	var n int
	for b.Loop() {
		e := NewEncoder(Table{Charset: CP860, Slot: 3})
		e.QRImage(pixPayload, 6)
		if e.Err() != nil {
			b.Fatal(e.Err())
		}
		n = e.Len()
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkText(b *testing.B) {
	const line = "2x Pão de queijo tradicional 100g ..... R$ 19,80" // 48 columns
	e := NewEncoder(Table{Charset: CP860, Slot: 3})
	for b.Loop() {
		e.buf = e.buf[:0]
		e.Line(line)
	}
	b.ReportMetric(float64(e.Len()), "bytes")
}
