// Package tlsconfig builds client TLS configurations from PEM files, with
// errors that say which file is wrong and what to give instead.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Client builds a client TLS configuration from PEM files: caFile ("":
// the system's CAs), a client certificate certFile and keyFile (both or
// neither). what names the service in errors ("kafka", "clickhouse").
func Client(what, caFile, certFile, keyFile, serverName string, insecureSkipVerify bool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecureSkipVerify}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s TLS: cannot read the CA file %s: %w (give a readable PEM file of the CA that signed the server certificates)", what, caFile, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s TLS: CA file %s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", what, caFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s TLS: client certificate %s with key %s: %w (give the PEM certificate and its unencrypted PEM private key)", what, certFile, keyFile, unwrapPath(err))
		}
		tc.Certificates = []tls.Certificate{cert}
	case certFile != "":
		return nil, fmt.Errorf("%s TLS: client certificate %s given without its key: give the key file too", what, certFile)
	case keyFile != "":
		return nil, fmt.Errorf("%s TLS: client key %s given without its certificate: give the certificate file too", what, keyFile)
	}
	return tc, nil
}

// unwrapPath drops the path from a *PathError, which the message names
// already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Explain says what a TLS failure of a client means and what to do, or
// returns "" when err is no TLS failure. server names the peer ("the
// broker", "the server").
func Explain(err error, server string) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &unknownCA):
		return server + "'s TLS certificate is not signed by a trusted CA: give the CA that signed it as the CA file"
	case errors.As(err, &hostname):
		return server + "'s TLS certificate is not for this name: connect by a name it holds, or set the server name"
	case errors.As(err, &invalid):
		return server + "'s TLS certificate is not valid (expired, or not for a server)"
	case errors.As(err, &record):
		return "TLS is on but " + server + " answered in plain text: use its TLS port, or turn TLS off"
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return server + "'s TLS certificate could not be verified"
	}
	// Alerts the peer sent (unexported type): "remote error: tls: ...".
	msg := err.Error()
	for _, a := range []string{"certificate required", "bad certificate", "unknown certificate authority"} {
		if strings.Contains(msg, "remote error: tls: "+a) {
			return server + " refused our TLS client certificate (or wants one): give a client certificate and key it trusts"
		}
	}
	if strings.Contains(msg, "remote error: tls") {
		return server + " refused the TLS handshake: check the TLS settings it requires"
	}
	return ""
}
