package pix

import "testing"

func BenchmarkEncodeDynamic(b *testing.B) {
	d := Dynamic{Location: "https://pix.example.com/qr/v2/cob/9f3c2a1b7e6d4c5b8a9f0e1d2c3b4a59",
		MerchantName: "Quiosque Estação Sé", MerchantCity: "São Paulo", AmountCents: 123456}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeDynamic(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeStatic(b *testing.B) {
	s := Static{Key: "123e4567-e12b-12d1-a456-426655440000", Info: "Pedido 123", MerchantName: "Padaria São João",
		MerchantCity: "Goiânia", AmountCents: 1050, TxID: "PEDIDO123"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeStatic(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	// nascent-banrisul-dynamic, a real bank's dynamic code.
	const p = "00020101021226880014br.gov.bcb.pix2566ww4.banrisul.com.br/bqq/api/pix/qrcode/QxgfFfpI8QzfEEedoZJNLf4bor85204752153039865802BR5921Casa das Pipocas Ltda6012Porto Alegre61089400000062070503***63042DA6"
	b.ReportAllocs()
	for b.Loop() {
		if d := Decode(p); !d.Valid {
			b.Fatal(d.Error)
		}
	}
}

func BenchmarkQRPNG(b *testing.B) {
	p, err := EncodeDynamic(Dynamic{Location: "pix.example.com/qr/v2/cob/9f3c2a1b7e6d4c5b8a9f0e1d2c3b4a59",
		MerchantName: "Quiosque", MerchantCity: "Sao Paulo", AmountCents: 123456})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := QRPNG(p, 512); err != nil {
			b.Fatal(err)
		}
	}
}
