package pix

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// LoadClientCert reads the client certificate a PSP issued, in any of the forms PSPs hand out:
// PEM certificate + PEM key (.pem/.crt/.key), DER certificate + key (.cer, Sicredi), or a
// PKCS#12 bundle with a password (.p12/.pfx, Efí). The key must match the certificate.
func LoadClientCert(certPath, keyPath, p12Password string) (tls.Certificate, error) {
	data, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading the client certificate: %w", err)
	}
	if isP12(certPath) {
		key, leaf, chain, err := pkcs12.DecodeChain(data, p12Password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: not a readable PKCS#12 bundle (wrong password?): %w", certPath, err)
		}
		c := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		return c, checkPair(certPath, leaf, key)
	}
	certs, err := parseCerts(data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certPath, err)
	}
	kdata, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading the private key: %w", err)
	}
	key, err := parseKey(kdata)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyPath, err)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, x := range certs {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, checkPair(certPath, certs[0], key)
}

// LoadCAPool reads a CA bundle (PEM, one or more certificates, or one DER certificate).
func LoadCAPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle: %w", err)
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// parseCerts reads PEM certificates, or one DER certificate.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a PEM certificate does not parse: %w", err)
		}
		out = append(out, c)
	}
	if len(out) > 0 {
		return out, nil
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, errors.New("neither PEM nor DER certificates (for a .p12 bundle, name the file .p12)")
	}
	return []*x509.Certificate{c}, nil
}

// parseKey reads a private key: PEM (PKCS#8, PKCS#1, SEC 1) or the same in DER.
func parseKey(data []byte) (crypto.PrivateKey, error) {
	if !strings.Contains(string(data), "-----BEGIN") {
		return parseDERKey(data)
	}
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("not a private key: this PEM file holds no PRIVATE KEY block (only certificates or EC PARAMETERS?)")
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || x509.IsEncryptedPEMBlock(b): //nolint:staticcheck // detecting, not decrypting
			return nil, errors.New("the key is encrypted: export it without a passphrase (openssl pkey -in key.pem -out plain.pem), or use the .p12 bundle")
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return parseDERKey(b.Bytes)
		}
	}
}

func parseDERKey(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a private key in PEM or DER (PKCS#8, PKCS#1 or EC)")
}

// checkPair verifies the key belongs to the certificate.
func checkPair(path string, cert *x509.Certificate, key crypto.PrivateKey) error {
	type pub interface{ Equal(crypto.PublicKey) bool }
	var p crypto.PublicKey
	switch k := key.(type) {
	case *rsa.PrivateKey:
		p = &k.PublicKey
	case *ecdsa.PrivateKey:
		p = &k.PublicKey
	case ed25519.PrivateKey:
		p = k.Public()
	default:
		return fmt.Errorf("%s: unsupported key type %T", path, key)
	}
	if cp, ok := cert.PublicKey.(pub); !ok || !cp.Equal(p) {
		return fmt.Errorf("%s: the private key does not belong to this certificate", path)
	}
	return nil
}

// CertInfo describes a certificate for `totemd pix check`.
type CertInfo struct {
	Subject   string
	Issuer    string
	NotBefore time.Time
	NotAfter  time.Time
}

// Info describes c's leaf.
func Info(c tls.Certificate) CertInfo {
	l := c.Leaf
	if l == nil && len(c.Certificate) > 0 {
		l, _ = x509.ParseCertificate(c.Certificate[0])
	}
	if l == nil {
		return CertInfo{}
	}
	return CertInfo{Subject: l.Subject.String(), Issuer: l.Issuer.String(), NotBefore: l.NotBefore, NotAfter: l.NotAfter}
}
