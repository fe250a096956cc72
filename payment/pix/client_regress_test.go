// Regression tests of client bugs found in review (all fixed); run them alone with
//
//	go test -run TestBug ./payment/pix/
package pix_test

// Bugs found in the Pix API client. Each test fails on the current code and passes once the
// bug is fixed; run them with `go test -tags pixbugs ./payment/pix/`.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
)

// api.go:130 and api.go:221: "positive amount" is checked as valorRe && v != "0.00", so zero
// written with more digits ("00.00", "000.00") passes and a zero charge/refund is sent.
func TestBugZeroAmountWithLeadingZeros(t *testing.T) {
	p := newPSP(t, nil, func(w http.ResponseWriter, _ *http.Request, _ []byte, _ int) bool {
		writeBody(w, 500, "text/plain", "nothing should reach the PSP")
		return true
	})
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	c.MaxRetries = 0
	ctx := testCtx(t)
	for _, v := range []string{"00.00", "000.00", "0000000000.00"} {
		r := cobReq(pixsim.DefaultPixKey, 100)
		r.Valor.Original = v
		_, err := c.PutCob(ctx, newTxID(), r)
		var re *pix.RequestError
		if !errors.As(err, &re) || re.Field != "valor.original" {
			t.Errorf("PutCob with valor %q: %v, want a RequestError on valor.original", v, err)
		}
		_, err = c.PutDevolucao(ctx, "E12345678202503101800abcdefghijk", "d1", pix.DevolucaoRequest{Valor: v})
		if !errors.As(err, &re) || re.Field != "valor" {
			t.Errorf("PutDevolucao with valor %q: %v, want a RequestError on valor", v, err)
		}
	}
	if n := len(p.requests()); n != 0 {
		t.Errorf("%d requests left for zero amounts: %v", n, p.requests())
	}
}

// client.go:172 and client.go:209-213: fetchToken runs its own retry loop, and call wraps
// Token in a second one, so a failing token endpoint is tried (MaxRetries+1)² times instead
// of MaxRetries+1 (9 requests with the default 2), with the backoffs multiplied too. With 20
// callers waiting on the token mutex, each repeats the whole thing in turn.
func TestBugTokenFailureRetriedNested(t *testing.T) {
	sim := startSim(t, pixsim.Options{})
	sim.Fail(pixsim.Fault{Path: "/oauth/token", Status: 503, Times: 100})
	p := newPSP(t, sim, nil)
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	c.MaxRetries = 1
	_, err := c.GetCob(testCtx(t), newTxID())
	if pe := asPixError(t, err); pe.Status != 503 {
		t.Fatalf("error %v", err)
	}
	if n := p.tokens(); n != c.MaxRetries+1 {
		t.Errorf("%d token requests with MaxRetries %d, want %d", n, c.MaxRetries, c.MaxRetries+1)
	}
}

// client.go:300-306: retryable treats every error that is not a *pix.Error or RequestError
// as transient, certificate verification failures included: a PSP whose certificate is not
// trusted is dialled (MaxRetries+1)² times (with the nesting above) for an error that cannot
// go away by retrying.
func TestBugCertificateErrorRetried(t *testing.T) {
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeBody(w, 200, "application/json", `{}`) })
	cfg := p.config(t, "bcb", "")
	cfg.CA = roguePKI(t).files(t).CA
	c := newClient(t, cfg, pix.Options{})
	c.MaxRetries = 1
	_, err := c.GetCob(testCtx(t), newTxID())
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("error %v, want an unknown authority", err)
	}
	if n := p.hellos.Load(); n != 1 {
		t.Errorf("%d handshakes for an untrusted server certificate, want 1 (not retryable)", n)
	}
}

// client.go:132-138: Token takes c.mu with Lock, which ignores ctx: a caller whose context is
// cancelled or expires keeps waiting while another caller's token request runs (up to
// (MaxRetries+1) × Timeout plus backoffs).
func TestBugTokenWaitIgnoresContext(t *testing.T) {
	sim := startSim(t, pixsim.Options{})
	sim.Fail(pixsim.Fault{Path: "/oauth/token", Delay: 3 * time.Second})
	p := newPSP(t, sim, nil)
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.Token(testCtx(t)) })
	for deadline := time.Now().Add(5 * time.Second); p.tokens() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first token request never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetCob(ctx, newTxID())
	if d := time.Since(start); d > time.Second {
		t.Errorf("GetCob with a 200ms context returned after %s (waiting for another caller's token)", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's", err)
	}
}

// client.go:291-294: a context cancelled during the backoff returns the previous attempt's
// error (a Temporary *pix.Error 503) instead of ctx.Err(): callers cannot tell their own
// cancellation from a PSP failure, and may schedule a retry of it.
func TestBugCancelledDuringBackoffReturnsPSPError(t *testing.T) {
	sim := startSim(t, pixsim.Options{})
	txid := newTxID()
	setupCharge(t, sim, txid, 700)
	sim.Fail(pixsim.Fault{Path: "/cob", Method: "GET", Status: 503, Times: 20})
	c := newClient(t, simConfig(t, sim, "bcb", ""), pix.Options{})
	c.MaxRetries = 10
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := c.GetCob(ctx, txid)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetCob cancelled during the backoff: %v, want context.Canceled", err)
	}
}

// errors.go:61: decodeError unmarshals the body into *Error, whose Op, Status, Retry and Body
// have no `json:"-"`: a problem body's "status" member (RFC 7807 has one) overwrites the HTTP
// status (Status is documented as the HTTP status), which decides Temporary and the retries.
func TestBugProblemStatusOverridesHTTPStatus(t *testing.T) {
	var answered atomic.Bool
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if answered.CompareAndSwap(false, true) {
			writeBody(w, 503, "application/problem+json", `{"title":"Serviço Indisponível","status":400}`)
			return
		}
		writeBody(w, 200, "application/json", `{"txid":"x"}`)
	})
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	c.MaxRetries = 0
	_, err := c.GetCob(testCtx(t), newTxID())
	if pe := asPixError(t, err); pe.Status != 503 || !pe.Temporary() {
		t.Errorf("HTTP 503 decoded with Status %d, Temporary %v", pe.Status, pe.Temporary())
	}
	c.MaxRetries = 2
	answered.Store(false)
	if _, err := c.GetCob(testCtx(t), newTxID()); err != nil {
		t.Errorf("a 503 was not retried: %v", err)
	}
}

// client.go:250-253 with client.go:300-306: a 2xx whose body is not the expected JSON is a
// plain error, which retryable takes for a network error: the call is repeated MaxRetries
// times (a PUT re-sent) although the PSP answered.
func TestBugUndecodableSuccessRetried(t *testing.T) {
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeBody(w, 200, "text/html", "<html>OK</html>")
	})
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	if _, err := c.GetCob(testCtx(t), newTxID()); err == nil {
		t.Fatal("accepted")
	}
	if n := p.count(http.MethodGet, "/cob/"); n != 1 {
		t.Errorf("%d GET /cob for one answered call, want 1", n)
	}
}

// tls.go:104-110: parseKey reads only the first PEM block. A key file made by `openssl ecparam
// -genkey` starts with an "EC PARAMETERS" block, and a combined PEM (certificate then key,
// with key naming the same file) starts with the certificate: both are refused as "not a
// private key".
func TestBugKeyAfterAnotherPEMBlock(t *testing.T) {
	ec := newECKey(t)
	cert := clientCertFor(t, ec, "kiosk")
	keyPEM := pemOf("EC PRIVATE KEY", derOf(t, "SEC1", ec))
	prime256v1 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	dir := t.TempDir()
	t.Run("openssl ecparam -genkey", func(t *testing.T) {
		cp := writeFile(t, dir, "c.pem", pemCert(cert))
		kp := writeFile(t, dir, "c.key", append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: prime256v1}), keyPEM...))
		if _, err := pix.LoadClientCert(cp, kp, ""); err != nil {
			t.Errorf("LoadClientCert: %v", err)
		}
	})
	t.Run("certificate and key in one file", func(t *testing.T) {
		both := writeFile(t, dir, "both.pem", append(pemCert(cert), keyPEM...))
		if _, err := pix.LoadClientCert(both, both, ""); err != nil {
			t.Errorf("LoadClientCert: %v", err)
		}
	})
}

// tls.go:107: only legacy "Proc-Type: 4,ENCRYPTED" PEM keys are recognised as encrypted; a
// PKCS#8 "ENCRYPTED PRIVATE KEY" (what openssl genpkey/pkcs8 -aes256 write today) gets "not
// a private key in PEM or DER" instead of the advice to export it without a passphrase.
func TestBugEncryptedPKCS8NotRecognised(t *testing.T) {
	ec := newECKey(t)
	dir := t.TempDir()
	cp := writeFile(t, dir, "c.pem", pemCert(clientCertFor(t, ec, "kiosk")))
	kp := writeFile(t, dir, "c.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}))
	_, err := pix.LoadClientCert(cp, kp, "")
	if err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("LoadClientCert with an encrypted PKCS#8 key: %v, want it to say the key is encrypted", err)
	}
}

// config.go:140-145 (secret) and client.go:91-95: an empty client_secret_file (or a first line
// left blank) is accepted; New succeeds and the mistake shows at the first payment as a 401
// from the PSP, although New promises "a broken file is reported at start".
func TestBugEmptyClientSecretAccepted(t *testing.T) {
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeBody(w, 200, "application/json", `{}`) })
	for name, content := range map[string]string{"empty": "", "blank first line": "\nthe-secret\n"} {
		t.Run(name, func(t *testing.T) {
			cfg := p.config(t, "bcb", "")
			cfg.ClientSecretFile = writeFile(t, t.TempDir(), "secret", []byte(content))
			c, err := pix.New(cfg, pix.Options{Logger: quietLog()})
			if err == nil {
				c.Close()
				t.Errorf("New accepted a client secret file with an empty first line")
			}
		})
	}
}

// api.go:257-266: GetWebhook and DeleteWebhook do not check chave (PutWebhook does). An empty
// chave sends GET/DELETE {base}/webhook/, which a PSP may route to GET /webhook (the list of
// webhooks) and the client decodes as one webhook.
func TestBugWebhookChaveNotChecked(t *testing.T) {
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeBody(w, 200, "application/json", `{"parametros":{},"webhooks":[]}`)
	})
	c := newClient(t, p.config(t, "bcb", ""), pix.Options{})
	ctx := testCtx(t)
	for _, chave := range []string{"", strings.Repeat("k", 78)} {
		if _, err := c.GetWebhook(ctx, chave); !isRequestError(err) {
			t.Errorf("GetWebhook(%q): %v, want a RequestError", chave, err)
		}
		if err := c.DeleteWebhook(ctx, chave); !isRequestError(err) {
			t.Errorf("DeleteWebhook(%q): %v, want a RequestError", chave, err)
		}
	}
	if n := p.count("", "/webhook"); n != 0 {
		t.Errorf("%d webhook requests sent: %v", n, p.requests())
	}
}

func isRequestError(err error) bool {
	var re *pix.RequestError
	return errors.As(err, &re)
}
