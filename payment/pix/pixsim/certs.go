package pixsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/totemd/totemd/internal/atomicfile"
)

// Certificate files in Options.Dir.
const (
	fileCA        = "ca.pem"
	fileCAKey     = "ca.key"
	fileServer    = "server.pem"
	fileServerKey = "server.key"
	fileClient    = "client.pem"
	fileClientKey = "client.key"
)

const (
	certLifetime = 365 * 24 * time.Hour
	// renewMargin: a certificate this close to its end is replaced at Start, so a simulator
	// never starts with one that dies while it runs.
	renewMargin = 24 * time.Hour
)

// bundle is the CA and the two certificates it signs.
type bundle struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	server tls.Certificate
	srvPEM []byte
	cliPEM []byte
	cliKey []byte
}

func (b *bundle) public(dir string) Certs {
	return Certs{CAPEM: b.caPEM, ServerCertPEM: b.srvPEM, ClientCertPEM: b.cliPEM, ClientKeyPEM: b.cliKey, Dir: dir}
}

// loadOrCreateCerts reuses the certificates in dir when they are present, readable, consistent
// and not about to expire, and (re)generates what is not. With dir "", everything is fresh and
// only in memory. A new CA means new server and client certificates.
func loadOrCreateCerts(dir, clientID string, extraIP net.IP, now time.Time) (*bundle, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("pixsim: state directory: %w", err)
		}
	}
	b := &bundle{}
	var err error
	freshCA := true
	if dir != "" {
		if b.ca, b.caKey, err = loadPair(dir, fileCA, fileCAKey, nil, now); err == nil && b.ca.IsCA {
			freshCA = false
			b.caPEM, _ = os.ReadFile(filepath.Join(dir, fileCA))
		}
	}
	if freshCA {
		if b.ca, b.caKey, b.caPEM, err = newCA(now); err != nil {
			return nil, err
		}
		if err := writeFiles(dir, map[string][]byte{fileCA: b.caPEM, fileCAKey: keyPEM(b.caKey)}); err != nil {
			return nil, err
		}
	}

	hosts := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if extraIP != nil {
		ips = append(ips, extraIP)
	}

	// Server.
	var srv *x509.Certificate
	var srvKey *ecdsa.PrivateKey
	if !freshCA {
		srv, srvKey, err = loadPair(dir, fileServer, fileServerKey, b.ca, now)
		if err == nil && !covers(srv, hosts, ips) {
			err = errors.New("does not name every address")
		}
	}
	if freshCA || err != nil {
		srv, srvKey, b.srvPEM, err = newLeaf(b.ca, b.caKey, "localhost", hosts, ips, x509.ExtKeyUsageServerAuth, now)
		if err != nil {
			return nil, err
		}
		if err := writeFiles(dir, map[string][]byte{fileServer: b.srvPEM, fileServerKey: keyPEM(srvKey)}); err != nil {
			return nil, err
		}
	} else {
		b.srvPEM, _ = os.ReadFile(filepath.Join(dir, fileServer))
	}
	b.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey, Leaf: srv}

	// Client.
	var cliKey *ecdsa.PrivateKey
	reuse := false
	if !freshCA {
		var cli *x509.Certificate
		cli, _, err = loadPair(dir, fileClient, fileClientKey, b.ca, now)
		reuse = err == nil && slices.Contains(cli.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if reuse {
		b.cliPEM, _ = os.ReadFile(filepath.Join(dir, fileClient))
		b.cliKey, _ = os.ReadFile(filepath.Join(dir, fileClientKey))
	} else {
		_, cliKey, b.cliPEM, err = newLeaf(b.ca, b.caKey, clientID, nil, nil, x509.ExtKeyUsageClientAuth, now)
		if err != nil {
			return nil, err
		}
		b.cliKey = keyPEM(cliKey)
		if err := writeFiles(dir, map[string][]byte{fileClient: b.cliPEM, fileClientKey: b.cliKey}); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// loadPair reads a PEM certificate and its PEM ECDSA key from dir and checks they belong
// together, are valid at now (with renewMargin to spare) and, when issuer is given, that it
// signed the certificate.
func loadPair(dir, certFile, keyFile string, issuer *x509.Certificate, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certData, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, nil, err
	}
	keyData, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certData)
	kb, _ := pem.Decode(keyData)
	if cb == nil || kb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the key does not belong to the certificate")
	}
	if now.Before(cert.NotBefore) || now.Add(renewMargin).After(cert.NotAfter) {
		return nil, nil, errors.New("expired or about to")
	}
	if issuer != nil {
		if err := cert.CheckSignatureFrom(issuer); err != nil {
			return nil, nil, err
		}
	}
	return cert, key, nil
}

func covers(c *x509.Certificate, hosts []string, ips []net.IP) bool {
	for _, h := range hosts {
		if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "totemd pixsim CA", Organization: []string{"totemd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pixsim: creating the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, hosts []string, ips []net.IP,
	usage x509.ExtKeyUsage, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"totemd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		DNSNames:              hosts,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pixsim: creating a certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func keyPEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// writeFiles writes each file atomically (keys and certificates alike are 0600: the
// directory is the simulator's own).
func writeFiles(dir string, files map[string][]byte) error {
	if dir == "" {
		return nil
	}
	for name, data := range files {
		if err := atomicfile.Write(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("pixsim: writing %s: %w", name, err)
		}
	}
	return nil
}
