package pix_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is one 2048-bit RSA key for the whole run (generating them is slow).
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clientCertFor issues a client certificate of testPKI for key.
func clientCertFor(t testing.TB, key crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	pk := testPKI(t)
	c, err := issueCert(pk.ca, pk.caKey, cn, key.Public(), true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func derOf(t testing.TB, typ string, k crypto.PrivateKey) []byte {
	t.Helper()
	var der []byte
	var err error
	switch typ {
	case "PKCS8":
		der, err = x509.MarshalPKCS8PrivateKey(k)
	case "PKCS1":
		der = x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))
	case "SEC1":
		der, err = x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadClientCert(t *testing.T) {
	pk := testPKI(t)
	ec := newECKey(t)
	ecCert := clientCertFor(t, ec, "kiosk-ec")
	rk := testRSAKey(t)
	rCert := clientCertFor(t, rk, "kiosk-rsa")
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edCert := clientCertFor(t, edKey, "kiosk-ed25519")
	p12 := func(enc *pkcs12.Encoder, key crypto.PrivateKey, c *x509.Certificate, chain []*x509.Certificate, pw string) []byte {
		b, err := enc.Encode(key, c, chain, pw)
		if err != nil {
			t.Fatalf("pkcs12: %v", err)
		}
		return b
	}
	cases := []struct {
		name              string
		certName, keyName string
		certData, keyData []byte
		password          string
		leaf              *x509.Certificate
		key               crypto.PrivateKey
		chainLen          int
	}{
		{"PEM cert + PKCS#8 EC key", "c.pem", "c.key", pemCert(ecCert), pemOf("PRIVATE KEY", derOf(t, "PKCS8", ec)), "", ecCert, ec, 1},
		{"PEM cert + SEC1 EC key", "c.crt", "c.key", pemCert(ecCert), pemOf("EC PRIVATE KEY", derOf(t, "SEC1", ec)), "", ecCert, ec, 1},
		{"PEM cert + PKCS#1 RSA key", "c.pem", "c.key", pemCert(rCert), pemOf("RSA PRIVATE KEY", derOf(t, "PKCS1", rk)), "", rCert, rk, 1},
		{"PEM cert + PKCS#8 RSA key", "c.pem", "c.key", pemCert(rCert), pemOf("PRIVATE KEY", derOf(t, "PKCS8", rk)), "", rCert, rk, 1},
		{"PEM cert + PKCS#8 Ed25519 key", "c.pem", "c.key", pemCert(edCert), pemOf("PRIVATE KEY", derOf(t, "PKCS8", edKey)), "", edCert, edKey, 1},
		{"PEM chain leaf + CA", "c.pem", "c.key", append(pemCert(ecCert), pk.caPEM...), pemOf("PRIVATE KEY", derOf(t, "PKCS8", ec)), "", ecCert, ec, 2},
		{"DER .cer + DER PKCS#8 key (Sicredi)", "c.cer", "c.key", ecCert.Raw, derOf(t, "PKCS8", ec), "", ecCert, ec, 1},
		{"DER .cer + DER PKCS#1 key", "c.cer", "c.key", rCert.Raw, derOf(t, "PKCS1", rk), "", rCert, rk, 1},
		{"DER .cer + DER SEC1 key", "c.cer", "c.key", ecCert.Raw, derOf(t, "SEC1", ec), "", ecCert, ec, 1},
		{"DER .cer + PEM key", "c.cer", "c.key", rCert.Raw, pemOf("RSA PRIVATE KEY", derOf(t, "PKCS1", rk)), "", rCert, rk, 1},
		{".p12 Modern with password (Efí)", "c.p12", "", p12(pkcs12.Modern, ec, ecCert, nil, "s3nha!"), nil, "s3nha!", ecCert, ec, 1},
		{".p12 Legacy RSA with password", "c.p12", "", p12(pkcs12.Legacy, rk, rCert, nil, "pw"), nil, "pw", rCert, rk, 1},
		{".PFX with chain", "C.PFX", "", p12(pkcs12.Modern, ec, ecCert, []*x509.Certificate{pk.ca}, "pw"), nil, "pw", ecCert, ec, 2},
		{".p12 without password", "c.p12", "", p12(pkcs12.Modern, ec, ecCert, nil, ""), nil, "", ecCert, ec, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cp := writeFile(t, dir, tc.certName, tc.certData)
			kp := ""
			if tc.keyName != "" {
				kp = writeFile(t, dir, tc.keyName, tc.keyData)
			}
			c, err := pix.LoadClientCert(cp, kp, tc.password)
			if err != nil {
				t.Fatalf("LoadClientCert: %v", err)
			}
			if c.Leaf == nil || !c.Leaf.Equal(tc.leaf) || len(c.Certificate) != tc.chainLen || string(c.Certificate[0]) != string(tc.leaf.Raw) {
				t.Errorf("leaf %v, %d certificates; want %s and %d", c.Leaf != nil, len(c.Certificate), tc.leaf.Subject, tc.chainLen)
			}
			if tc.chainLen == 2 && string(c.Certificate[1]) != string(pk.ca.Raw) {
				t.Error("the chain does not carry the CA")
			}
			type pub interface{ Public() crypto.PublicKey }
			got, ok := c.PrivateKey.(pub)
			if !ok || !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.key.(pub).Public()) {
				t.Errorf("private key %T is not the certificate's", c.PrivateKey)
			}
			if info := pix.Info(c); info.Subject != tc.leaf.Subject.String() || info.Issuer != pk.ca.Subject.String() ||
				!info.NotAfter.Equal(tc.leaf.NotAfter) {
				t.Errorf("Info %+v", info)
			}
			// The pair is usable for TLS.
			if _, err := tls.X509KeyPair(pemCert(c.Leaf), pkcs8PEM(t, c.PrivateKey)); err != nil {
				t.Errorf("not a usable key pair: %v", err)
			}
		})
	}
}

func TestLoadClientCertErrors(t *testing.T) {
	ec := newECKey(t)
	ecCert := clientCertFor(t, ec, "kiosk-ec")
	other := newECKey(t)
	good := pemOf("PRIVATE KEY", derOf(t, "PKCS8", ec))
	p12, err := pkcs12.Modern.Encode(ec, ecCert, nil, "right")
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // legacy PEM encryption is what this test is about
	enc, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", derOf(t, "SEC1", ec), []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name              string
		certName, keyName string
		certData, keyData []byte
		password          string
		want              []string // substrings of the error
	}{
		{"wrong .p12 password", "kiosk.p12", "", p12, nil, "wrong", []string{"kiosk.p12", "wrong password?"}},
		{".p12 without its password", "kiosk.p12", "", p12, nil, "", []string{"kiosk.p12", "PKCS#12"}},
		{"garbage .p12", "kiosk.pfx", "", []byte("not a bundle"), nil, "x", []string{"kiosk.pfx", "PKCS#12"}},
		{"key of another certificate", "c.pem", "c.key", pemCert(ecCert), pemOf("PRIVATE KEY", derOf(t, "PKCS8", other)), "", []string{"c.pem", "does not belong"}},
		{"RSA key for an EC certificate", "c.pem", "c.key", pemCert(ecCert), pemOf("RSA PRIVATE KEY", derOf(t, "PKCS1", testRSAKey(t))), "", []string{"does not belong"}},
		{"encrypted PEM key", "c.pem", "c.key", pemCert(ecCert), pem.EncodeToMemory(enc), "", []string{"c.key", "encrypted"}},
		{"garbage certificate", "c.pem", "c.key", []byte("hello"), good, "", []string{"c.pem", "neither PEM nor DER"}},
		{"a key given as the certificate", "c.pem", "c.key", good, good, "", []string{"c.pem", "neither PEM nor DER"}},
		{"corrupt PEM certificate", "c.pem", "c.key", pemOf("CERTIFICATE", []byte("junk")), good, "", []string{"c.pem", "does not parse"}},
		{"garbage key", "c.pem", "c.key", pemCert(ecCert), []byte("hello"), "", []string{"c.key", "not a private key"}},
		{"a certificate given as the key", "c.pem", "c.key", pemCert(ecCert), pemCert(ecCert), "", []string{"c.key", "not a private key"}},
		{"missing certificate", "", "c.key", nil, good, "", []string{"reading the client certificate"}},
		{"missing key", "c.pem", "", pemCert(ecCert), nil, "", []string{"reading the private key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cp, kp := dir+"/absent.pem", dir+"/absent.key"
			if tc.certName != "" {
				cp = writeFile(t, dir, tc.certName, tc.certData)
			}
			if tc.keyName != "" {
				kp = writeFile(t, dir, tc.keyName, tc.keyData)
			}
			_, err := pix.LoadClientCert(cp, kp, tc.password)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadCAPool(t *testing.T) {
	pk, rogue := testPKI(t), roguePKI(t)
	verifies := func(pool *x509.CertPool, c *x509.Certificate) bool {
		_, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err == nil
	}
	dir := t.TempDir()
	cases := []struct {
		name          string
		data          []byte
		main, rogueOK bool
	}{
		{"PEM bundle of two", append(append([]byte("# PSP chain\n"), pk.caPEM...), rogue.caPEM...), true, true},
		{"one PEM", pk.caPEM, true, false},
		{"DER", rogue.ca.Raw, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := pix.LoadCAPool(writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_"), tc.data))
			if err != nil {
				t.Fatalf("LoadCAPool: %v", err)
			}
			p := pool
			if verifies(p, pk.clientCert) != tc.main || verifies(p, rogue.clientCert) != tc.rogueOK {
				t.Errorf("the pool trusts main %v rogue %v, want %v %v", verifies(p, pk.clientCert), verifies(p, rogue.clientCert), tc.main, tc.rogueOK)
			}
		})
	}
	for name, data := range map[string][]byte{"garbage": []byte("nope"), "key only": pkcs8PEM(t, pk.clientKey), "empty": nil} {
		t.Run(name, func(t *testing.T) {
			if _, err := pix.LoadCAPool(writeFile(t, dir, "bad_"+strings.ReplaceAll(name, " ", "_"), data)); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := pix.LoadCAPool(dir + "/absent.pem"); err == nil || !strings.Contains(err.Error(), "reading the CA bundle") {
		t.Errorf("missing file: %v", err)
	}
}

// TestClientCertificateFormatsEndToEnd: each format PSPs hand out, loaded by New from files,
// makes an mTLS connection the PSP accepts (the token call included).
func TestClientCertificateFormatsEndToEnd(t *testing.T) {
	ec := newECKey(t)
	rk := testRSAKey(t)
	ecCert := clientCertFor(t, ec, "kiosk-p12")
	rCert := clientCertFor(t, rk, "kiosk-sicredi-der")
	p12, err := pkcs12.Modern.Encode(ec, ecCert, nil, "senha da efí")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, profile string
		files         map[string][]byte
		cert, key     string
		pwFile        string
		cn            string
	}{
		{"efi .p12 with a password file", "efi", map[string][]byte{"efi.p12": p12, "pw": []byte("senha da efí\nsecond line\n")}, "efi.p12", "", "pw", "kiosk-p12"},
		{"sicredi DER .cer and DER PKCS#1 .key", "sicredi", map[string][]byte{"sicredi.cer": rCert.Raw, "sicredi.key": derOf(t, "PKCS1", rk)}, "sicredi.cer", "sicredi.key", "", "kiosk-sicredi-der"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, d := range tc.files {
				writeFile(t, dir, n, d)
			}
			p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				writeBody(w, 200, "application/json", `{"webhookUrl":"https://x.example/wh"}`)
			})
			cfg := p.config(t, tc.profile, "/v2")
			cfg.Cert, cfg.Key = dir+"/"+tc.cert, ""
			if tc.key != "" {
				cfg.Key = dir + "/" + tc.key
			}
			if tc.pwFile != "" {
				cfg.P12PasswordFile = dir + "/" + tc.pwFile
			}
			c := newClient(t, cfg, pix.Options{})
			if got := c.Certificate().Leaf.Subject.CommonName; got != tc.cn {
				t.Errorf("Certificate() is %q", got)
			}
			if _, err := c.GetWebhook(testCtx(t), pixsim.DefaultPixKey); err != nil {
				t.Fatalf("GetWebhook: %v", err)
			}
			for _, r := range p.requests() {
				if r.PeerCN != tc.cn {
					t.Errorf("%v made with client certificate %q, want %q", r, r.PeerCN, tc.cn)
				}
			}
			if len(p.requests()) != 2 {
				t.Errorf("requests %v, want token + GET", p.requests())
			}
		})
	}
	t.Run("p12_password_env", func(t *testing.T) {
		dir := t.TempDir()
		p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeBody(w, 200, "application/json", `{}`) })
		cfg := p.config(t, "efi", "")
		cfg.Cert, cfg.Key = writeFile(t, dir, "efi.p12", p12), ""
		t.Setenv("TOTEMD_TEST_P12_PASSWORD", "senha da efí")
		cfg.P12PasswordEnv = "TOTEMD_TEST_P12_PASSWORD"
		c, err := pix.New(cfg, pix.Options{Logger: quietLog()})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		c.Close()
		t.Setenv("TOTEMD_TEST_P12_PASSWORD", "wrong")
		if _, err := pix.New(cfg, pix.Options{Logger: quietLog()}); err == nil || !strings.Contains(err.Error(), "wrong password?") {
			t.Fatalf("New with a wrong .p12 password: %v", err)
		}
	})
}

func TestHandshakeFailures(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(t *testing.T, cfg *pix.Config)
		expect func(t *testing.T, err error)
	}{
		{"server CA not trusted (no CA configured: system roots)", func(t *testing.T, cfg *pix.Config) { cfg.CA = "" },
			wantUnknownAuthority},
		{"server CA not trusted (another CA configured)", func(t *testing.T, cfg *pix.Config) { cfg.CA = roguePKI(t).files(t).CA },
			wantUnknownAuthority},
		{"client certificate not accepted", func(t *testing.T, cfg *pix.Config) {
			r := roguePKI(t).files(t)
			cfg.Cert, cfg.Key = r.Cert, r.Key
		}, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "tls") {
				t.Errorf("error %q does not say the TLS handshake failed", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeBody(w, 200, "application/json", `{}`) })
			cfg := p.config(t, "bcb", "")
			tc.mod(t, &cfg)
			c := newClient(t, cfg, pix.Options{})
			c.MaxRetries = 0
			_, err := c.GetCob(testCtx(t), newTxID())
			if err == nil {
				t.Fatal("GetCob succeeded")
			}
			var pe *pix.Error
			if errors.As(err, &pe) {
				t.Errorf("a handshake failure reported as a PSP answer: %v", err)
			}
			if !strings.Contains(err.Error(), "POST /oauth/token") {
				t.Errorf("error %q does not name the token call", err)
			}
			tc.expect(t, err)
			if n := len(p.requests()); n != 0 {
				t.Errorf("the PSP served %d requests", n)
			}
			if p.hellos.Load() == 0 {
				t.Error("no handshake was tried")
			}
		})
	}
	t.Run("against pixsim without its CA", func(t *testing.T) {
		sim := startSim(t, pixsim.Options{})
		cfg := simConfig(t, sim, "bcb", "")
		cfg.CA = ""
		c := newClient(t, cfg, pix.Options{})
		c.MaxRetries = 0
		_, err := c.Token(testCtx(t))
		wantUnknownAuthority(t, err)
	})
}

func wantUnknownAuthority(t *testing.T, err error) {
	t.Helper()
	var ua x509.UnknownAuthorityError
	var cv *tls.CertificateVerificationError
	if !errors.As(err, &ua) && !errors.As(err, &cv) {
		t.Errorf("error %v (%T), want a certificate verification failure", err, err)
	}
}
