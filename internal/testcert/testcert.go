// Package testcert makes throwaway TLS material for tests: a CA, a server
// certificate for localhost / 127.0.0.1 / ::1 and a client certificate,
// all signed by that CA and written as PEM files.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Set is one CA and the certificates it signed, as PEM files in Dir.
type Set struct {
	Dir                           string
	CAFile                        string // the CA certificate
	CertFile, KeyFile             string // the server's certificate and key
	ClientCertFile, ClientKeyFile string // a client certificate and key
	CAPool                        *x509.CertPool
	Server                        tls.Certificate
}

// New makes a fresh CA and its certificates in a temporary directory.
func New(tb testing.TB) *Set {
	tb.Helper()
	s := &Set{Dir: tb.TempDir()}
	caKey := key(tb)
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: serial(tb), Subject: pkix.Name{CommonName: "apiwatch test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	s.CAPool = x509.NewCertPool()
	s.CAPool.AddCert(caCert)
	s.CAFile = s.write(tb, "ca.pem", "CERTIFICATE", caDER)

	leaf := func(name string, usage x509.ExtKeyUsage) (certFile, keyFile string, pair tls.Certificate) {
		k := key(tb)
		tmpl := &x509.Certificate{
			SerialNumber: serial(tb), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			tb.Fatal(err)
		}
		certFile = s.write(tb, name+".pem", "CERTIFICATE", der)
		keyFile = s.write(tb, name+"-key.pem", "PRIVATE KEY", kder)
		pair, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			tb.Fatal(err)
		}
		return certFile, keyFile, pair
	}
	s.CertFile, s.KeyFile, s.Server = leaf("server", x509.ExtKeyUsageServerAuth)
	s.ClientCertFile, s.ClientKeyFile, _ = leaf("client", x509.ExtKeyUsageClientAuth)
	return s
}

// ServerConfig is a server-side TLS configuration presenting the server
// certificate; with clientAuth, clients must present one the CA signed.
func (s *Set) ServerConfig(clientAuth bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{s.Server}, MinVersion: tls.VersionTLS12}
	if clientAuth {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = s.CAPool
	}
	return c
}

func (s *Set) write(tb testing.TB, name, typ string, der []byte) string {
	tb.Helper()
	p := filepath.Join(s.Dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func key(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
