package pixsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMTLS(t *testing.T) {
	e := newEnv(t)
	// A certificate of the same shape, signed by another CA.
	caCert, caKey, _, err := newCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey, _, err := newLeaf(caCert, caKey, DefaultClientID, nil, nil, x509.ExtKeyUsageClientAuth, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign := &tls.Certificate{Certificate: [][]byte{other.Raw}, PrivateKey: otherKey}
	// A self-signed one.
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	selfTmpl := &x509.Certificate{SerialNumber: other.SerialNumber, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	selfDER, _ := x509.CreateCertificate(rand.Reader, selfTmpl, selfTmpl, &selfKey.PublicKey, selfKey)
	self := &tls.Certificate{Certificate: [][]byte{selfDER}, PrivateKey: selfKey}

	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{"the simulator's client certificate", nil, true},
		{"no client certificate", &tls.Certificate{}, false},
		{"a certificate from another CA", foreign, false},
		{"a self-signed certificate", self, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *e
			c.t = t
			c.hc = clientFor(t, e.sim.Certs(), tc.cert)
			for _, path := range []string{"/oauth/token", "/_sim/ledger"} {
				_, err := c.raw("POST", path, "grant_type=client_credentials", map[string]string{
					"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(DefaultClientID, DefaultClientSecret)})
				if tc.ok && err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if !tc.ok && err == nil {
					t.Fatalf("%s: the call went through", path)
				}
			}
		})
	}

	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		certs := e.sim.Certs()
		pair, _ := tls.X509KeyPair(certs.ClientCertPEM, certs.ClientKeyPEM)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certs.CAPEM)
		conn, err := tls.Dial("tcp", strings.TrimPrefix(e.sim.BaseURL(), "https://"), &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{pair}, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})

	t.Run("server certificate names 127.0.0.1 and localhost", func(t *testing.T) {
		certs := e.sim.Certs()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certs.CAPEM)
		pair, _ := tls.X509KeyPair(certs.ClientCertPEM, certs.ClientKeyPEM)
		port := e.sim.BaseURL()[strings.LastIndex(e.sim.BaseURL(), ":")+1:]
		conn, err := tls.Dial("tcp", "localhost:"+port, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})
		if err != nil {
			t.Fatalf("localhost must reach the simulator's loopback listener (its certificate names localhost): %v", err)
		}
		st := conn.ConnectionState()
		conn.Close()
		leaf := st.PeerCertificates[0]
		if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
			t.Errorf("server key %T, want ECDSA", leaf.PublicKey)
		}
		if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 364*24*time.Hour || d > 367*24*time.Hour {
			t.Errorf("validity %s, want a year", d)
		}
	})
}

func TestToken(t *testing.T) {
	e := newEnv(t)
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name        string
		ctype, body string
		auth        string
		status      int
		errCode     string
		wantScope   string
	}{
		{"form with scopes (Sicredi, BCB)", form, "grant_type=client_credentials&scope=cob.write+cob.read+pix.read+pix.write+webhook.read+webhook.write",
			basic(DefaultClientID, DefaultClientSecret), 200, "", "cob.write cob.read pix.read pix.write webhook.read webhook.write"},
		{"form without scope", form, "grant_type=client_credentials", basic(DefaultClientID, DefaultClientSecret), 200, "", ""},
		{"JSON (Efí)", "application/json", `{"grant_type":"client_credentials"}`, basic(DefaultClientID, DefaultClientSecret), 200, "", ""},
		{"JSON with charset", "application/json; charset=utf-8", `{"grant_type":"client_credentials"}`, basic(DefaultClientID, DefaultClientSecret), 200, "", ""},
		{"wrong secret", form, "grant_type=client_credentials", basic(DefaultClientID, "nope"), 401, "invalid_client", ""},
		{"wrong client id", "application/json", `{"grant_type":"client_credentials"}`, basic("someone", DefaultClientSecret), 401, "invalid_client", ""},
		{"no credentials", form, "grant_type=client_credentials", "", 401, "invalid_client", ""},
		{"wrong grant", form, "grant_type=password", basic(DefaultClientID, DefaultClientSecret), 400, "unsupported_grant_type", ""},
		{"no grant", "application/json", `{}`, basic(DefaultClientID, DefaultClientSecret), 400, "invalid_request", ""},
		{"unknown scope", form, "grant_type=client_credentials&scope=cob.write+everything", basic(DefaultClientID, DefaultClientSecret), 400, "invalid_scope", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": tc.ctype}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			r, err := e.raw("POST", "/oauth/token", tc.body, hdr)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tc.status {
				t.Fatalf("status %v, want %d", r, tc.status)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			m := r.obj(t)
			if tc.status != 200 {
				if m["error"] != tc.errCode {
					t.Errorf("error %v, want %s", m["error"], tc.errCode)
				}
				if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || len(m["access_token"].(string)) < 20 {
				t.Errorf("token answer %v", m)
			}
			if tc.wantScope != "" && m["scope"] != tc.wantScope {
				t.Errorf("scope %q, want %q", m["scope"], tc.wantScope)
			}
			if tc.wantScope == "" && !strings.Contains(m["scope"].(string), "cob.write") {
				t.Errorf("scope %q: a token that asked for none may do everything", m["scope"])
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Error("token answer is cacheable")
			}
		})
	}
}

func TestTokenExpiryAndScopes(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TokenTTL = 10 * time.Minute })
	id := txid(1)
	get := func(tok string) resp {
		r, err := e.raw("GET", "/cob/"+id, nil, map[string]string{"Authorization": "Bearer " + tok})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	e.mustCreate(id, 1000)

	t.Run("no token", func(t *testing.T) {
		r, err := e.raw("GET", "/cob/"+id, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, r, 401, "", "")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		wantProblem(t, get("not-a-token"), 401, "", "")
	})
	t.Run("ExpireTokens", func(t *testing.T) {
		tok := e.token("")
		if r := get(tok); r.status != 200 {
			t.Fatalf("fresh token: %v", r)
		}
		e.sim.ExpireTokens()
		r := get(tok)
		wantProblem(t, r, 401, "", "")
		if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
		if r := get(e.token("")); r.status != 200 {
			t.Fatalf("new token after ExpireTokens: %v", r)
		}
	})
	t.Run("lifetime on the simulator's clock", func(t *testing.T) {
		tok := e.token("")
		e.clock.Advance(10*time.Minute - time.Second)
		if r := get(tok); r.status != 200 {
			t.Fatalf("token before its end: %v", r)
		}
		e.clock.Advance(time.Second)
		wantProblem(t, get(tok), 401, "", "")
	})
	t.Run("scopes", func(t *testing.T) {
		tok := e.token("cob.read")
		if r := get(tok); r.status != 200 {
			t.Fatalf("cob.read token reading a cob: %v", r)
		}
		r, _ := e.raw("PUT", "/cob/"+txid(2), cobBody(100), map[string]string{"Authorization": "Bearer " + tok})
		wantProblem(t, r, 403, errAcessoNegado, "")
		r, _ = e.raw("GET", "/pix?inicio=2025-01-01T00:00:00Z&fim=2026-01-01T00:00:00Z", nil, map[string]string{"Authorization": "Bearer " + tok})
		wantProblem(t, r, 403, errAcessoNegado, "")
	})
}

var (
	e2eFormat = regexp.MustCompile(`^E\d{8}\d{12}[a-zA-Z0-9]{11}$`)
	rtrFormat = regexp.MustCompile(`^D\d{8}\d{12}[a-zA-Z0-9]{11}$`)
)

func TestPutCob(t *testing.T) {
	e := newEnv(t)
	id := txid(1)
	body := cobBody(1234)
	body["infoAdicionais"] = []any{map[string]any{"nome": "Pedido", "valor": "A-17"}}
	body["devedor"] = map[string]any{"cpf": "12345678909", "nome": "Francisco da Silva"}
	r := e.call("PUT", "/cob/"+id, body)
	if r.status != 201 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("PUT: %v (%s)", r, r.header.Get("Content-Type"))
	}
	m := r.obj(t)
	host := strings.TrimPrefix(e.sim.BaseURL(), "https://")
	loc, _ := m["location"].(string)
	checks := []struct {
		what      string
		got, want any
	}{
		{"txid", m["txid"], id},
		{"revisao", m["revisao"], float64(0)},
		{"status", m["status"], "ATIVA"},
		{"valor.original", get(m, "valor", "original"), "12.34"},
		{"chave", m["chave"], DefaultPixKey},
		{"calendario.criacao", get(m, "calendario", "criacao"), "2025-03-10T18:00:00.000Z"},
		{"calendario.expiracao", get(m, "calendario", "expiracao"), float64(300)},
		{"loc.tipoCob", get(m, "loc", "tipoCob"), "cob"},
		{"loc.location", get(m, "loc", "location"), loc},
		{"loc.criacao", get(m, "loc", "criacao"), "2025-03-10T18:00:00.000Z"},
		{"loc.id", get(m, "loc", "id"), float64(1)},
		{"solicitacaoPagador", m["solicitacaoPagador"], "Totem 1 - pedido"},
		{"devedor.cpf", get(m, "devedor", "cpf"), "12345678909"},
		{"infoAdicionais[0].valor", get(m, "infoAdicionais", 0, "valor"), "A-17"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !regexp.MustCompile(`^`+regexp.QuoteMeta(host)+`/qr/v2/[0-9a-f]{32}$`).MatchString(loc) || len(loc) > 77 {
		t.Errorf("location %q", loc)
	}
	_, hasPix := m["pix"]
	if hasPix {
		t.Error("an unpaid charge has a pix member")
	}

	// The BR Code: dynamic, single use, pointing at the location, with a valid CRC.
	code := m["pixCopiaECola"].(string)
	fields := tlvs(t, code)
	if fields["00"] != "01" || fields["01"] != "12" || fields["53"] != "986" || fields["54"] != "12.34" || fields["58"] != "BR" ||
		fields["59"] != DefaultMerchantName || fields["60"] != DefaultMerchantCity {
		t.Errorf("BR Code fields %v", fields)
	}
	mai := tlvs(t, fields["26"])
	if !strings.EqualFold(mai["00"], "br.gov.bcb.pix") || mai["25"] != loc || mai["01"] != "" {
		t.Errorf("merchant account %v, want 25 = %s", mai, loc)
	}
	if crc := crc16([]byte(code[:len(code)-4])); fmt.Sprintf("%04X", crc) != code[len(code)-4:] {
		t.Errorf("CRC of %s", code)
	}

	c, ok := e.sim.Charge(id)
	if !ok || c.AmountCents != 1234 || c.Status != "ATIVA" || c.Expiry != 300*time.Second || c.Puts != 1 ||
		c.Location != loc || c.PixCopiaECola != code || !c.Created.Equal(t0) {
		t.Errorf("Charge = %+v", c)
	}
}

func TestPutCobIdempotent(t *testing.T) {
	e := newEnv(t)
	id := txid(1)
	first := e.call("PUT", "/cob/"+id, cobBody(500))
	e.clock.Advance(5 * time.Second)
	second := e.call("PUT", "/cob/"+id, cobBody(500))
	if first.status != 201 || second.status != 201 || string(first.body) != string(second.body) {
		t.Fatalf("same PUT twice: %v / %v", first, second)
	}
	// Same content written differently (members reordered, defaults spelled out) is the same body.
	same := `{"valor":{"modalidadeAlteracao":0,"original":"5.00"},"chave":"` + DefaultPixKey +
		`","solicitacaoPagador":"Totem 1 - pedido","calendario":{"expiracao":300}}`
	if r := e.call("PUT", "/cob/"+id, same); r.status != 201 || string(r.body) != string(first.body) {
		t.Fatalf("same body, other spelling: %v", r)
	}
	if n := len(e.sim.Charges()); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}
	if c, _ := e.sim.Charge(id); c.Puts != 3 {
		t.Fatalf("Puts = %d, want 3", c.Puts)
	}

	// Another amount on the same txid: refused, never a second charge.
	r := e.call("PUT", "/cob/"+id, cobBody(600))
	wantProblem(t, r, 400, errCobOperacaoInvalida, "cob.txid")
	if c, _ := e.sim.Charge(id); c.Puts != 4 || c.AmountCents != 500 || len(e.sim.Charges()) != 1 {
		t.Fatalf("after a conflicting PUT: %+v", c)
	}

	// Paid: the same PUT answers the charge as it is (CONCLUIDA), and it cannot be paid again.
	e.mustPay(id, 500)
	r = e.call("PUT", "/cob/"+id, cobBody(500))
	if r.status != 201 || r.obj(t)["status"] != "CONCLUIDA" {
		t.Fatalf("PUT on a paid charge: %v", r)
	}
	if _, err := e.sim.Pay(id, 500); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("second Pay: %v", err)
	}
}

func TestPutCobConcurrent(t *testing.T) {
	e := newEnv(t)
	id := txid(7)
	tok := e.token("")
	var wg sync.WaitGroup
	statuses := make([]int, 16)
	for i := range statuses {
		wg.Go(func() {
			r, err := e.raw("PUT", "/cob/"+id, cobBody(999), map[string]string{"Authorization": "Bearer " + tok})
			if err == nil {
				statuses[i] = r.status
			}
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Errorf("call %d: status %d", i, s)
		}
	}
	if c, _ := e.sim.Charge(id); len(e.sim.Charges()) != 1 || c.Puts != len(statuses) {
		t.Fatalf("%d charges, Puts %d", len(e.sim.Charges()), c.Puts)
	}
	// Racing payments: exactly one wins.
	var paid sync.Map
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			if e2e, err := e.sim.Pay(id, 999); err == nil {
				paid.Store(e2e, true)
			}
		})
	}
	wg.Wait()
	n := 0
	paid.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d payments succeeded", n)
	}
}

func TestPutCobInvalid(t *testing.T) {
	e := newEnv(t)
	with := func(mod func(m map[string]any)) map[string]any {
		b := cobBody(1000)
		mod(b)
		return b
	}
	long := strings.Repeat("á", 141)
	for _, tc := range []struct {
		name string
		txid string
		body any
		prop string
	}{
		{"txid too short", "abc123", cobBody(1000), "cob.txid"},
		{"txid with a dash", "totemd-test-0000000000000000001", cobBody(1000), "cob.txid"},
		{"txid too long", strings.Repeat("a", 36), cobBody(1000), "cob.txid"},
		{"valor without decimals", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{"original": "10"} }), "cob.valor.original"},
		{"valor with a comma", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{"original": "10,00"} }), "cob.valor.original"},
		{"valor zero", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{"original": "0.00"} }), "cob.valor.original"},
		{"valor negative", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{"original": "-1.00"} }), "cob.valor.original"},
		{"valor 11 digits", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{"original": "12345678901.00"} }), "cob.valor.original"},
		{"valor as a number", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{"original": 10.5} }), "cob.valor.original"},
		{"valor missing", txid(1), with(func(m map[string]any) { delete(m, "valor") }), "cob.valor"},
		{"valor.original missing", txid(1), with(func(m map[string]any) { m["valor"] = map[string]any{} }), "cob.valor.original"},
		{"modalidadeAlteracao 2", txid(1), with(func(m map[string]any) {
			m["valor"] = map[string]any{"original": "1.00", "modalidadeAlteracao": 2}
		}), "cob.valor.modalidadeAlteracao"},
		{"retirada", txid(1), with(func(m map[string]any) {
			m["valor"] = map[string]any{"original": "1.00", "retirada": map[string]any{}}
		}), "cob.valor.retirada"},
		{"expiracao zero", txid(1), with(func(m map[string]any) { m["calendario"] = map[string]any{"expiracao": 0} }), "cob.calendario.expiracao"},
		{"expiracao negative", txid(1), with(func(m map[string]any) { m["calendario"] = map[string]any{"expiracao": -5} }), "cob.calendario.expiracao"},
		{"expiracao as a string", txid(1), with(func(m map[string]any) { m["calendario"] = map[string]any{"expiracao": "3600"} }), "cob.calendario.expiracao"},
		{"expiracao fractional", txid(1), `{"calendario":{"expiracao":3600.5},"valor":{"original":"1.00"},"chave":"` + DefaultPixKey + `"}`, "cob.calendario.expiracao"},
		{"calendario missing", txid(1), with(func(m map[string]any) { delete(m, "calendario") }), "cob.calendario"},
		{"calendario.dataDeVencimento (cobv)", txid(1), with(func(m map[string]any) {
			m["calendario"] = map[string]any{"dataDeVencimento": "2025-12-01"}
		}), "cob.calendario.dataDeVencimento"},
		{"chave of someone else", txid(1), with(func(m map[string]any) { m["chave"] = "outra@example.com" }), "cob.chave"},
		{"chave missing", txid(1), with(func(m map[string]any) { delete(m, "chave") }), "cob.chave"},
		{"chave too long", txid(1), with(func(m map[string]any) { m["chave"] = strings.Repeat("k", 78) }), "cob.chave"},
		{"solicitacaoPagador 141 characters", txid(1), with(func(m map[string]any) { m["solicitacaoPagador"] = long }), "cob.solicitacaoPagador"},
		{"unknown member", txid(1), with(func(m map[string]any) { m["foo"] = 1 }), "cob.foo"},
		{"status on PUT", txid(1), with(func(m map[string]any) { m["status"] = "ATIVA" }), "cob.status"},
		{"loc", txid(1), with(func(m map[string]any) { m["loc"] = map[string]any{"id": 7} }), "cob.loc.id"},
		{"devedor with cpf and cnpj", txid(1), with(func(m map[string]any) {
			m["devedor"] = map[string]any{"cpf": "12345678909", "cnpj": "12345678000195", "nome": "X"}
		}), "cob.devedor"},
		{"devedor cpf check digits", txid(1), with(func(m map[string]any) {
			m["devedor"] = map[string]any{"cpf": "12345678900", "nome": "X"}
		}), "cob.devedor.cpf"},
		{"devedor cnpj check digits", txid(1), with(func(m map[string]any) {
			m["devedor"] = map[string]any{"cnpj": "12345678000100", "nome": "X"}
		}), "cob.devedor.cnpj"},
		{"devedor without nome", txid(1), with(func(m map[string]any) { m["devedor"] = map[string]any{"cpf": "12345678909"} }), "cob.devedor.nome"},
		{"infoAdicionais item without valor", txid(1), with(func(m map[string]any) {
			m["infoAdicionais"] = []any{map[string]any{"nome": "a"}}
		}), "cob.infoAdicionais[0].valor"},
		{"infoAdicionais nome of 51", txid(1), with(func(m map[string]any) {
			m["infoAdicionais"] = []any{map[string]any{"nome": strings.Repeat("n", 51), "valor": "v"}}
		}), "cob.infoAdicionais[0].nome"},
		{"not JSON", txid(1), `{"valor":`, "cob"},
		{"a JSON array", txid(1), `[]`, "cob"},
		{"two objects", txid(1), `{} {}`, "cob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("PUT", "/cob/"+tc.txid, tc.body)
			wantProblem(t, r, 400, errCobOperacaoInvalida, tc.prop)
		})
	}
	if n := len(e.sim.Charges()); n != 0 {
		t.Fatalf("invalid bodies created %d charges", n)
	}
	// Valid edge cases.
	ok := cobBody(1)
	ok["solicitacaoPagador"] = strings.Repeat("á", 140)
	ok["devedor"] = map[string]any{"cnpj": "12ABC34501DE35", "nome": "Empresa"} // alphanumeric CNPJ
	ok["valor"] = map[string]any{"original": "9999999999.99"}
	ok["calendario"] = map[string]any{} // expiracao defaults to 86400
	r := e.call("PUT", "/cob/"+strings.Repeat("Z", 35), ok)
	if r.status != 201 || get(r.obj(t), "calendario", "expiracao") != float64(86400) {
		t.Fatalf("edge-valid body: %v", r)
	}
}

func TestPayAndGet(t *testing.T) {
	e := newEnv(t)
	id := txid(1)
	e.mustCreate(id, 2500)
	if r := e.call("GET", "/cob/"+id, nil); r.status != 200 || r.obj(t)["status"] != "ATIVA" {
		t.Fatalf("GET before paying: %v", r)
	}
	e.clock.Advance(42 * time.Second)
	e2e := e.mustPay(id, 2500)
	if !e2eFormat.MatchString(e2e) || e2e[9:21] != "202503101800" {
		t.Errorf("e2eid %q", e2e)
	}
	r := e.call("GET", "/cob/"+id, nil)
	m := r.obj(t)
	if r.status != 200 || m["status"] != "CONCLUIDA" || len(asSlice(m["pix"])) != 1 {
		t.Fatalf("GET after paying: %v", r)
	}
	p := get(m, "pix", 0)
	for k, want := range map[string]any{"endToEndId": e2e, "txid": id, "valor": "25.00", "horario": "2025-03-10T18:00:42.000Z", "chave": DefaultPixKey} {
		if got := get(p, k); got != want {
			t.Errorf("pix.%s = %v, want %v", k, got, want)
		}
	}
	r = e.call("GET", "/pix/"+e2e, nil)
	if r.status != 200 || r.obj(t)["endToEndId"] != e2e {
		t.Fatalf("GET /pix/{e2eid}: %v", r)
	}
	wantProblem(t, e.call("GET", "/pix/E99999001202503101800aaaaaaaaaaa", nil), 404, errPixNaoEncontrado, "")
	wantProblem(t, e.call("GET", "/cob/"+txid(99), nil), 404, errCobNaoEncontrado, "")

	if _, err := e.sim.Pay(id, 2500); !errors.Is(err, ErrNotPayable) {
		t.Errorf("paying twice: %v", err)
	}
	if _, err := e.sim.Pay(txid(99), 100); !errors.Is(err, ErrNoCharge) {
		t.Errorf("paying an unknown charge: %v", err)
	}
	c, _ := e.sim.Charge(id)
	if c.Status != "CONCLUIDA" || len(c.Payments) != 1 || c.Payments[0].E2EID != e2e || c.Payments[0].AmountCents != 2500 ||
		!c.Payments[0].Time.Equal(t0.Add(42*time.Second)) {
		t.Errorf("Charge = %+v", c)
	}
}

func TestPayWrongAmount(t *testing.T) {
	e := newEnv(t)
	id := txid(1)
	e.mustCreate(id, 5000)
	e2e := e.mustPay(id, 4999)
	m := e.call("GET", "/cob/"+id, nil).obj(t)
	if m["status"] != "CONCLUIDA" || get(m, "valor", "original") != "50.00" || get(m, "pix", 0, "valor") != "49.99" ||
		get(m, "pix", 0, "endToEndId") != e2e {
		t.Fatalf("wrong-amount payment: %v", m)
	}
	if _, err := e.sim.Pay(txid(1), 0); !errors.Is(err, ErrNotPayable) {
		t.Errorf("zero amount: %v", err)
	}
}

func TestExpiredCharge(t *testing.T) {
	e := newEnv(t)
	id := txid(1)
	body := cobBody(700)
	body["calendario"] = map[string]any{"expiracao": 60}
	if r := e.call("PUT", "/cob/"+id, body); r.status != 201 {
		t.Fatal(r)
	}
	e.clock.Advance(60 * time.Second)
	// Expired: still ATIVA when read (as PSPs do), but it cannot be paid.
	if r := e.call("GET", "/cob/"+id, nil); r.obj(t)["status"] != "ATIVA" {
		t.Fatalf("expired charge reads %v", r)
	}
	if _, err := e.sim.Pay(id, 700); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("paying an expired charge: %v", err)
	}
	// The same PUT answers the same (expired) charge, still unpayable; another body is refused.
	r := e.call("PUT", "/cob/"+id, body)
	if r.status != 201 || get(r.obj(t), "calendario", "criacao") != "2025-03-10T18:00:00.000Z" {
		t.Fatalf("PUT after expiry: %v", r)
	}
	if _, err := e.sim.Pay(id, 700); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("paying after a repeated PUT: %v", err)
	}
	body["calendario"] = map[string]any{"expiracao": 600}
	wantProblem(t, e.call("PUT", "/cob/"+id, body), 400, errCobOperacaoInvalida, "cob.txid")
	if c, _ := e.sim.Charge(id); len(e.sim.Charges()) != 1 || c.Expiry != time.Minute || c.Puts != 3 {
		t.Fatalf("after PUTs on an expired charge: %+v", c)
	}
}

func TestPatchCob(t *testing.T) {
	e := newEnv(t)
	remove := map[string]any{"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}

	t.Run("cancel", func(t *testing.T) {
		id := txid(1)
		e.mustCreate(id, 1000)
		r := e.call("PATCH", "/cob/"+id, remove)
		m := r.obj(t)
		if r.status != 200 || m["status"] != "REMOVIDA_PELO_USUARIO_RECEBEDOR" || m["revisao"] != float64(1) {
			t.Fatalf("PATCH: %v", r)
		}
		if r := e.call("GET", "/cob/"+id, nil); r.obj(t)["status"] != "REMOVIDA_PELO_USUARIO_RECEBEDOR" {
			t.Fatalf("GET after PATCH: %v", r)
		}
		if _, err := e.sim.Pay(id, 1000); !errors.Is(err, ErrNotPayable) {
			t.Fatalf("paying a removed charge: %v", err)
		}
		// Removing again changes nothing: 200, same revision (a retried cancel is safe).
		r = e.call("PATCH", "/cob/"+id, remove)
		if r.status != 200 || r.obj(t)["revisao"] != float64(1) {
			t.Fatalf("second PATCH: %v", r)
		}
		// The same PUT does not revive it.
		if r := e.call("PUT", "/cob/"+id, cobBody(1000)); r.status != 201 || r.obj(t)["status"] != "REMOVIDA_PELO_USUARIO_RECEBEDOR" {
			t.Fatalf("PUT on a removed charge: %v", r)
		}
	})
	t.Run("paid charge", func(t *testing.T) {
		id := txid(2)
		e.mustCreate(id, 1000)
		e.mustPay(id, 1000)
		wantProblem(t, e.call("PATCH", "/cob/"+id, remove), 400, errCobOperacaoInvalida, "cob.status")
		if c, _ := e.sim.Charge(id); c.Status != "CONCLUIDA" || c.Revision != 0 {
			t.Fatalf("Charge = %+v", c)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		id := txid(3)
		e.mustCreate(id, 1000)
		wantProblem(t, e.call("PATCH", "/cob/"+id, map[string]any{"status": "CONCLUIDA"}), 400, errCobOperacaoInvalida, "cob.status")
		wantProblem(t, e.call("PATCH", "/cob/"+id, map[string]any{"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR",
			"valor": map[string]any{"original": "2.00"}}), 400, errCobOperacaoInvalida, "cob.status")
		wantProblem(t, e.call("PATCH", "/cob/"+txid(99), remove), 404, errCobNaoEncontrado, "")
	})
	t.Run("revision", func(t *testing.T) {
		id := txid(4)
		first := e.mustCreate(id, 1000)
		r := e.call("PATCH", "/cob/"+id, map[string]any{"valor": map[string]any{"original": "12.00"}, "solicitacaoPagador": "novo"})
		m := r.obj(t)
		if r.status != 200 || m["revisao"] != float64(1) || get(m, "valor", "original") != "12.00" || m["solicitacaoPagador"] != "novo" ||
			m["pixCopiaECola"] == first["pixCopiaECola"] || m["location"] != first["location"] {
			t.Fatalf("revision: %v", r)
		}
		old := e.call("GET", "/cob/"+id+"?revisao=0", nil).obj(t)
		if old["revisao"] != float64(0) || get(old, "valor", "original") != "10.00" {
			t.Fatalf("revisao=0: %v", old)
		}
		wantProblem(t, e.call("GET", "/cob/"+id+"?revisao=2", nil), 400, errCobConsultaInvalida, "revisao")
		if _, err := e.sim.Pay(id, 1200); err != nil {
			t.Fatalf("paying the revised amount: %v", err)
		}
	})
}

func TestRefund(t *testing.T) {
	e := newEnv(t)
	id := txid(1)
	e.mustCreate(id, 10000)
	e2e := e.mustPay(id, 10000)
	path := func(rid string) string { return "/pix/" + e2e + "/devolucao/" + rid }

	e.clock.Advance(time.Minute)
	r := e.call("PUT", path("D1"), map[string]any{"valor": "30.00"})
	first := r.obj(t)
	if r.status != 201 || first["status"] != "EM_PROCESSAMENTO" || first["valor"] != "30.00" || first["id"] != "D1" ||
		get(first, "horario", "solicitacao") != "2025-03-10T18:01:00.000Z" || !rtrFormat.MatchString(first["rtrId"].(string)) {
		t.Fatalf("refund: %v", r)
	}
	// Idempotent on id.
	again := e.call("PUT", path("D1"), map[string]any{"valor": "30.00"})
	if again.status != 201 || string(again.body) != string(r.body) {
		t.Fatalf("same refund again: %v", again)
	}
	if n := len(e.sim.Refunds()); n != 1 {
		t.Fatalf("%d refunds", n)
	}
	// Read: settled.
	got := e.call("GET", path("D1"), nil).obj(t)
	if got["status"] != "DEVOLVIDO" || got["rtrId"] != first["rtrId"] || get(got, "horario", "liquidacao") == nil {
		t.Fatalf("GET refund: %v", got)
	}
	if rf := e.sim.Refunds()[0]; rf.Status != "DEVOLVIDO" || rf.E2EID != e2e || rf.AmountCents != 3000 || rf.RtrID != first["rtrId"] {
		t.Fatalf("Refunds()[0] = %+v", rf)
	}

	for _, tc := range []struct {
		name, rid string
		body      any
		status    int
		typ, prop string
	}{
		{"same id, other amount", "D1", map[string]any{"valor": "40.00"}, 400, errDevolucaoInvalida, "id"},
		{"beyond what is left", "D2", map[string]any{"valor": "70.01"}, 400, errDevolucaoInvalida, "devolucao.valor"},
		{"zero", "D2", map[string]any{"valor": "0.00"}, 400, errDevolucaoInvalida, "devolucao.valor"},
		{"bad amount", "D2", map[string]any{"valor": "1"}, 400, errDevolucaoInvalida, "devolucao.valor"},
		{"no amount", "D2", map[string]any{}, 400, errDevolucaoInvalida, "devolucao.valor"},
		{"unknown member", "D2", map[string]any{"valor": "1.00", "motivo": "x"}, 400, errDevolucaoInvalida, "devolucao.motivo"},
		{"RETIRADA", "D2", map[string]any{"valor": "1.00", "natureza": "RETIRADA"}, 400, errDevolucaoInvalida, "devolucao.natureza"},
		{"bad id", "D-2", map[string]any{"valor": "1.00"}, 400, errDevolucaoInvalida, "id"},
		{"id of 36", strings.Repeat("d", 36), map[string]any{"valor": "1.00"}, 400, errDevolucaoInvalida, "id"},
		{"unknown e2eid", "", map[string]any{"valor": "1.00"}, 404, errPixNaoEncontrado, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path(tc.rid)
			if tc.rid == "" {
				p = "/pix/E99999001202503101800zzzzzzzzzzz/devolucao/X1"
			}
			wantProblem(t, e.call("PUT", p, tc.body), tc.status, tc.typ, tc.prop)
		})
	}

	// The rest of the money, to the centavo.
	if r := e.call("PUT", path("D2"), map[string]any{"valor": "70.00", "descricao": "Devolução do pedido"}); r.status != 201 {
		t.Fatalf("refunding the rest: %v", r)
	}
	wantProblem(t, e.call("PUT", path("D3"), map[string]any{"valor": "0.01"}), 400, errDevolucaoInvalida, "devolucao.valor")
	p := e.call("GET", "/pix/"+e2e, nil).obj(t)
	devs := asSlice(p["devolucoes"])
	if len(devs) != 2 || get(devs[1], "descricao") != "Devolução do pedido" || get(devs[1], "status") != "DEVOLVIDO" {
		t.Fatalf("pix devolucoes: %v", p)
	}
	if devs := asSlice(get(e.call("GET", "/cob/"+id, nil).obj(t), "pix", 0, "devolucoes")); len(devs) != 2 {
		t.Fatalf("cob pix devolucoes: %v", devs)
	}
	wantProblem(t, e.call("GET", path("NOPE"), nil), 404, errDevolucaoNaoEncontrada, "")

	// 90 days after the Pix, no more refunds.
	id2 := txid(2)
	e.mustCreate(id2, 100)
	e2e2 := e.mustPay(id2, 100)
	e.clock.Advance(91 * 24 * time.Hour)
	e.tok = "" // the old token died long ago
	wantProblem(t, e.call("PUT", "/pix/"+e2e2+"/devolucao/late", map[string]any{"valor": "1.00"}), 400, errDevolucaoInvalida, "e2eid")
}

func TestPixList(t *testing.T) {
	e := newEnv(t)
	var e2es []string
	for i := range 5 {
		e.mustCreate(txid(i), int64(100*(i+1)))
		e.clock.Advance(time.Minute)
		e2es = append(e2es, e.mustPay(txid(i), int64(100*(i+1)))) // 18:01, 18:02, ... 18:05
	}
	list := func(q string) map[string]any {
		t.Helper()
		r := e.call("GET", "/pix?"+q, nil)
		if r.status != 200 {
			t.Fatalf("GET /pix?%s: %v", q, r)
		}
		return r.obj(t)
	}
	ids := func(m map[string]any) []string {
		var out []string
		for _, p := range asSlice(m["pix"]) {
			out = append(out, get(p, "endToEndId").(string))
		}
		return out
	}
	q := func(inicio, fim string, extra ...string) string {
		v := url.Values{"inicio": {inicio}, "fim": {fim}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v.Encode()
	}
	for _, tc := range []struct {
		name  string
		query string
		want  []string
		pages int
		total int
	}{
		{"everything", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z"), e2es, 1, 5},
		{"window, bounds included", q("2025-03-10T18:02:00Z", "2025-03-10T18:04:00Z"), e2es[1:4], 1, 3},
		{"another offset", q("2025-03-10T15:02:00-03:00", "2025-03-10T15:02:59.999-03:00"), e2es[1:2], 1, 1},
		{"before", q("2025-03-09T00:00:00Z", "2025-03-10T18:00:59Z"), nil, 1, 0},
		{"txid", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "txid", txid(3)), e2es[3:4], 1, 1},
		{"page 0 of 2", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "paginacao.itensPorPagina", "2"), e2es[0:2], 3, 5},
		{"page 2 of 2", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "paginacao.itensPorPagina", "2", "paginacao.paginaAtual", "2"), e2es[4:5], 3, 5},
		{"page past the end", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "paginacao.paginaAtual", "9"), nil, 1, 5},
		{"cpf is ignored", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "cpf", "12345678909"), e2es, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := list(tc.query)
			if got := ids(m); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("pix %v, want %v", got, tc.want)
			}
			pg := get(m, "parametros", "paginacao")
			if get(pg, "quantidadeDePaginas") != float64(tc.pages) || get(pg, "quantidadeTotalDeItens") != float64(tc.total) {
				t.Errorf("paginacao %v", pg)
			}
			if _, ok := m["pix"].([]any); !ok {
				t.Errorf("pix is %T, want a list (even empty)", m["pix"])
			}
		})
	}
	for _, tc := range []struct{ name, query, prop string }{
		{"no inicio", "fim=2025-03-11T00:00:00Z", "inicio"},
		{"no fim", "inicio=2025-03-11T00:00:00Z", "fim"},
		{"not RFC 3339", q("2025-03-10", "2025-03-11T00:00:00Z"), "inicio"},
		{"fim before inicio", q("2025-03-11T00:00:00Z", "2025-03-10T00:00:00Z"), "fim"},
		{"cpf and cnpj", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "cpf", "12345678909", "cnpj", "12345678000195"), "cpf"},
		{"negative page", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "paginacao.paginaAtual", "-1"), "paginacao.paginaAtual"},
		{"1001 per page", q("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "paginacao.itensPorPagina", "1001"), "paginacao.itensPorPagina"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.call("GET", "/pix?"+tc.query, nil), 400, errPixConsultaInvalida, tc.prop)
		})
	}
}

func TestWebhook(t *testing.T) {
	e := newEnv(t)
	path := "/webhook/" + DefaultPixKey
	wantProblem(t, e.call("GET", path, nil), 404, errWebhookNaoEncontrado, "")
	if r := e.call("PUT", path, map[string]any{"webhookUrl": "https://cloud.example.com/pix"}); r.status != 200 {
		t.Fatalf("PUT webhook: %v", r)
	}
	m := e.call("GET", path, nil).obj(t)
	if m["webhookUrl"] != "https://cloud.example.com/pix" || m["chave"] != DefaultPixKey || m["criacao"] != "2025-03-10T18:00:00.000Z" {
		t.Fatalf("GET webhook: %v", m)
	}
	wantProblem(t, e.call("PUT", path, map[string]any{"webhookUrl": "http://cloud.example.com/pix"}), 400, errWebhookOperacaoInvalida, "webhook.webhookUrl")
	wantProblem(t, e.call("PUT", path, map[string]any{"webhookUrl": "/relative"}), 400, errWebhookOperacaoInvalida, "webhook.webhookUrl")
	wantProblem(t, e.call("PUT", path, map[string]any{}), 400, errWebhookOperacaoInvalida, "webhook.webhookUrl")
	wantProblem(t, e.call("PUT", "/webhook/outra@example.com", map[string]any{"webhookUrl": "https://x.example.com"}), 400, errWebhookOperacaoInvalida, "chave")
	if r := e.call("DELETE", path, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("DELETE webhook: %v", r)
	}
	wantProblem(t, e.call("DELETE", path, nil), 404, errWebhookNaoEncontrado, "")
	wantProblem(t, e.call("GET", path, nil), 404, errWebhookNaoEncontrado, "")
}

func TestRoutes(t *testing.T) {
	e := newEnv(t)
	// The same API at the root, under /v2 (Efí) and /api/v2 (Sicredi); the token likewise.
	for i, prefix := range []string{"", "/v2", "/api/v2"} {
		id := txid(100 + i)
		r := e.call("PUT", prefix+"/cob/"+id, cobBody(100))
		if r.status != 201 {
			t.Fatalf("%s PUT: %v", prefix, r)
		}
		if r := e.call("GET", prefix+"/cob/"+id, nil); r.status != 200 {
			t.Fatalf("%s GET: %v", prefix, r)
		}
		tr, err := e.raw("POST", prefix+"/oauth/token", `{"grant_type":"client_credentials"}`,
			map[string]string{"Authorization": basic(DefaultClientID, DefaultClientSecret)})
		if err != nil || tr.status != 200 {
			t.Fatalf("%s token: %v %v", prefix, tr, err)
		}
	}
	wantProblem(t, e.call("GET", "/nothing/here", nil), 404, errNaoEncontrado, "")
	wantProblem(t, e.call("GET", "/v2x/cob/"+txid(100), nil), 404, errNaoEncontrado, "")
	r := e.call("DELETE", "/cob/"+txid(100), nil)
	wantProblem(t, r, 405, "", "")
	if r.header.Get("Allow") != "PUT, GET, PATCH" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	// Efí's QR code endpoint.
	m := e.call("GET", "/cob/"+txid(100), nil).obj(t)
	locID := strconv.Itoa(int(get(m, "loc", "id").(float64)))
	q := e.call("GET", "/v2/loc/"+locID+"/qrcode", nil).obj(t)
	if q["qrcode"] != m["pixCopiaECola"] || q["imagemQrcode"] != "" {
		t.Fatalf("qrcode: %v", q)
	}
	wantProblem(t, e.call("GET", "/v2/loc/999/qrcode", nil), 404, errPayloadLocationNaoEncont, "")
}

func TestEfiDialect(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Dialect = "efi" })
	efi := func(r resp, status int, nome string) map[string]any {
		t.Helper()
		if r.status != status || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("%v (%s), want %d application/json", r, r.header.Get("Content-Type"), status)
		}
		m := r.obj(t)
		if m["nome"] != nome || m["mensagem"] == "" || m["type"] != nil {
			t.Fatalf("Efí error %v, want nome %s", m, nome)
		}
		return m
	}
	efi(e.call("GET", "/v2/cob/"+txid(1), nil), 404, "cobranca_nao_encontrada")
	bad := cobBody(100)
	bad["valor"] = map[string]any{"original": "1"}
	m := efi(e.call("PUT", "/v2/cob/"+txid(1), bad), 400, "json_invalido")
	if !strings.Contains(m["mensagem"].(string), "cob.valor.original") {
		t.Errorf("mensagem %q does not name the field", m["mensagem"])
	}
	e.mustCreate(txid(1), 100)
	efi(e.call("PUT", "/v2/cob/"+txid(1), cobBody(200)), 400, "txid_duplicado")
	e2e := e.mustPay(txid(1), 100)
	efi(e.call("PUT", "/v2/pix/"+e2e+"/devolucao/R1", map[string]any{"valor": "2.00"}), 400, "valor_devolucao_atingido")
	r, _ := e.raw("GET", "/v2/cob/"+txid(1), nil, nil)
	efi(r, 401, "nao_autorizado")
	e.sim.Fail(Fault{Status: 503, RetryAfter: 2})
	r = e.call("GET", "/v2/cob/"+txid(1), nil)
	efi(r, 503, "servico_indisponivel")
	if r.header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	r, _ = e.raw("POST", "/oauth/token", `{"grant_type":"client_credentials"}`, map[string]string{"Authorization": basic("x", "y")})
	if m := r.obj(t); r.status != 401 || m["error"] != "invalid_client" || m["nome"] != "invalid_client" {
		t.Fatalf("Efí token error: %v", r)
	}
}

func TestFaults(t *testing.T) {
	t.Run("500 once, then the real answer", func(t *testing.T) {
		e := newEnv(t)
		e.token("") // the fault must hit the PUT, not the token call
		e.tok = e.token("")
		e.sim.Fail(Fault{Path: "/cob", Status: 500})
		wantProblem(t, e.call("PUT", "/cob/"+txid(1), cobBody(100)), 500, errErroInterno, "")
		if len(e.sim.Charges()) != 0 {
			t.Fatal("a fault before handling created the charge")
		}
		if r := e.call("PUT", "/cob/"+txid(1), cobBody(100)); r.status != 201 {
			t.Fatalf("after the fault: %v", r)
		}
		if c, _ := e.sim.Charge(txid(1)); c.Puts != 1 {
			t.Errorf("Puts = %d", c.Puts)
		}
	})
	t.Run("Times, Method and the /api/v2 prefix", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.mustCreate(txid(1), 100)
		e.sim.Fail(Fault{Path: "/cob", Method: "GET", Status: 502, Times: 2})
		if r := e.call("PUT", "/api/v2/cob/"+txid(1), cobBody(100)); r.status != 201 {
			t.Fatalf("a PUT was hit by a GET fault: %v", r)
		}
		for i := range 2 {
			wantProblem(t, e.call("GET", "/api/v2/cob/"+txid(1), nil), 502, "", "")
			_ = i
		}
		if r := e.call("GET", "/api/v2/cob/"+txid(1), nil); r.status != 200 {
			t.Fatalf("third GET: %v", r)
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.sim.Fail(Fault{Path: "/cob", Status: 429, RetryAfter: 7})
		r := e.call("GET", "/cob/"+txid(1), nil)
		wantProblem(t, r, 429, "", "")
		if r.header.Get("Retry-After") != "7" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	})
	t.Run("503 on the token endpoint", func(t *testing.T) {
		e := newEnv(t)
		e.sim.Fail(Fault{Path: "/oauth/token", Status: 503, RetryAfter: 1})
		r, err := e.raw("POST", "/oauth/token", "grant_type=client_credentials", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(DefaultClientID, DefaultClientSecret)})
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, r, 503, errServicoIndisponivel, "")
		e.token("")
	})
	t.Run("Delay", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.sim.Fail(Fault{Path: "/cob", Delay: 300 * time.Millisecond})
		start := time.Now()
		r := e.call("PUT", "/cob/"+txid(1), cobBody(100))
		if took := time.Since(start); r.status != 201 || took < 300*time.Millisecond {
			t.Fatalf("delayed PUT: %v after %s", r, took)
		}
	})
	t.Run("AfterHandling with a 500: the charge exists", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.sim.Fail(Fault{Path: "/cob", Method: "PUT", Status: 500, AfterHandling: true})
		wantProblem(t, e.call("PUT", "/cob/"+txid(1), cobBody(100)), 500, errErroInterno, "")
		c, ok := e.sim.Charge(txid(1))
		if !ok || c.Puts != 1 {
			t.Fatalf("charge after a lost answer: %+v %v", c, ok)
		}
		// The client retries the same PUT: the same charge, not a second one.
		if r := e.call("PUT", "/cob/"+txid(1), cobBody(100)); r.status != 201 {
			t.Fatalf("retry: %v", r)
		}
		if c, _ := e.sim.Charge(txid(1)); c.Puts != 2 || len(e.sim.Charges()) != 1 {
			t.Fatalf("after the retry: %+v", c)
		}
	})
	t.Run("AfterHandling with a delay the client does not wait for", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.hc.Timeout = 200 * time.Millisecond
		e.sim.Fail(Fault{Path: "/cob", Delay: 5 * time.Second, AfterHandling: true})
		start := time.Now()
		if _, err := e.raw("PUT", "/cob/"+txid(1), cobBody(100), map[string]string{"Authorization": "Bearer " + e.tok}); err == nil {
			t.Fatal("the client got an answer")
		}
		if _, ok := e.sim.Charge(txid(1)); !ok {
			t.Fatal("the charge was not created")
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("the handler held the client")
		}
	})
	t.Run("AfterHandling delay, then the real answer", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.mustCreate(txid(1), 100)
		e.sim.Fail(Fault{Path: "/cob", Method: "PATCH", Delay: 200 * time.Millisecond, AfterHandling: true})
		start := time.Now()
		r := e.call("PATCH", "/cob/"+txid(1), map[string]any{"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})
		if r.status != 200 || time.Since(start) < 200*time.Millisecond || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("late PATCH: %v", r)
		}
	})
	t.Run("faults do not touch the control API", func(t *testing.T) {
		e := newEnv(t)
		e.sim.Fail(Fault{Status: 500, Times: 5})
		r, err := e.raw("GET", "/_sim/ledger", nil, nil)
		if err != nil || r.status != 200 {
			t.Fatalf("ledger under a fault: %v %v", r, err)
		}
	})
	t.Run("Close during a delayed answer", func(t *testing.T) {
		e := newEnv(t)
		e.tok = e.token("")
		e.sim.Fail(Fault{Delay: time.Minute})
		done := make(chan error, 1)
		go func() {
			_, err := e.raw("GET", "/cob/"+txid(1), nil, map[string]string{"Authorization": "Bearer " + e.tok})
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		e.sim.Close()
		if err := <-done; err == nil {
			t.Error("the delayed call got an answer from a closed simulator")
		}
		if time.Since(start) > 5*time.Second {
			t.Error("Close waited for the delay")
		}
	})
}

// tlvs splits a BR Code level into id -> value (the CRC field included).
func tlvs(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for len(s) > 0 {
		if len(s) < 4 {
			t.Fatalf("truncated TLV %q", s)
		}
		n, err := strconv.Atoi(s[2:4])
		if err != nil || len(s) < 4+n {
			t.Fatalf("bad TLV at %q", s)
		}
		out[s[:2]] = s[4 : 4+n]
		s = s[4+n:]
	}
	return out
}

func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
