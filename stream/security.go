package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/apiwatch/apiwatch/internal/secret"
	"github.com/apiwatch/apiwatch/internal/tlsconfig"
)

// SASL mechanisms a Security may name.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// SASLMechanisms lists the valid values of Security.SASLMechanism.
var SASLMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// Security is how to reach a Kafka cluster that wants TLS, SASL or both.
// The zero value is plain TCP without authentication. Its password never
// prints (fmt, JSON, logs show "[redacted]").
type Security struct {
	// TLS encrypts the connections. CAFile (PEM) is the CA the brokers'
	// certificates are checked against (default: the system's); CertFile
	// and KeyFile (PEM), a client certificate for mutual TLS.
	// InsecureSkipVerify skips checking the brokers' certificates (tests
	// only); ServerName overrides the name checked (default: the broker's
	// host). Setting any of them implies TLS.
	TLS                       bool
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
	ServerName                string
	// SASLMechanism is "" (none), "plain", "scram-sha-256" or
	// "scram-sha-512" (case does not matter), with Username and Password.
	// PLAIN sends the password as it is: use it over TLS only.
	SASLMechanism string
	Username      string
	Password      secret.String
}

// Enabled reports whether s asks for anything beyond plain TCP.
func (s Security) Enabled() bool {
	return s.tlsWanted() || s.SASLMechanism != "" || s.Username != "" || !s.Password.Empty()
}

func (s Security) tlsWanted() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.InsecureSkipVerify || s.ServerName != ""
}

// String describes s without its password.
func (s Security) String() string {
	var parts []string
	if s.tlsWanted() {
		t := "tls"
		if s.CAFile != "" {
			t += " ca=" + s.CAFile
		}
		if s.CertFile != "" {
			t += " cert=" + s.CertFile + " key=" + s.KeyFile
		}
		if s.ServerName != "" {
			t += " server-name=" + s.ServerName
		}
		if s.InsecureSkipVerify {
			t += " insecure-skip-verify"
		}
		parts = append(parts, t)
	}
	if s.SASLMechanism != "" {
		p := "sasl " + strings.ToLower(s.SASLMechanism) + " user=" + s.Username
		if !s.Password.Empty() {
			p += " password=" + secret.Redacted
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "plaintext"
	}
	return strings.Join(parts, ", ")
}

// Format prints s as String does, for every verb (%v, %+v, %#v, %s):
// the password never shows.
func (s Security) Format(f fmt.State, _ rune) { f.Write([]byte("stream.Security{" + s.String() + "}")) }

// Transport returns the kafka-go transport for a kafka.Writer
// (ProducerConfig.Transport), or nil for plain TCP.
func (s Security) Transport() (*kafka.Transport, error) {
	if !s.Enabled() {
		return nil, nil
	}
	tc, mech, err := s.build()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DialTimeout: 5 * time.Second,
		TLS:         tc,
		SASL:        mech,
	}, nil
}

// Dialer returns the kafka-go dialer for a kafka.Reader or consumer group
// (ConsumerConfig.Dialer), or nil for plain TCP.
func (s Security) Dialer() (*kafka.Dialer, error) {
	if !s.Enabled() {
		return nil, nil
	}
	tc, mech, err := s.build()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech}, nil
}

// Check connects to brokers (the first that answers) with s and reports
// what failed: the broker's certificate, the SASL credentials, or the
// connection. The producer and consumer retry (and spool) through any
// error, so a daemon calls Check at startup to stop on wrong settings
// rather than retry them forever; whether an unreachable broker is fatal
// is the caller's choice (IsUnreachable).
func (s Security) Check(ctx context.Context, brokers []string) error {
	d, err := s.Dialer()
	if err != nil {
		return err
	}
	if d == nil {
		d = &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	}
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			// A refused client certificate shows on the first read
			// under TLS 1.3.
			_, err = conn.ApiVersions()
			conn.Close()
		}
		if err == nil {
			return nil
		}
		errs = append(errs, s.explain(b, err))
	}
	if len(errs) == 0 {
		return errors.New("kafka: no broker address given")
	}
	return errors.Join(errs...)
}

// checkError is an error of Check.
type checkError struct {
	err         error
	unreachable bool
}

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }

// IsUnreachable reports whether Check failed only because no broker
// answered (as opposed to a TLS or SASL failure, which retrying will not
// cure).
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var ce *checkError
		if !errors.As(e, &ce) || !ce.unreachable {
			return false
		}
	}
	return true
}

func (s Security) explain(broker string, err error) error {
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return &checkError{err: fmt.Errorf("kafka %s: SASL %s authentication failed for user %q: check the user name, the password and that the broker accepts this mechanism",
			broker, strings.ToLower(s.SASLMechanism), s.Username)}
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return &checkError{err: fmt.Errorf("kafka %s: the broker does not accept SASL %s: use one it is configured for", broker, strings.ToLower(s.SASLMechanism))}
	case tlsconfig.Explain(err, "") != "":
		return &checkError{err: fmt.Errorf("kafka %s: %s (%v)", broker, tlsconfig.Explain(err, "the broker"), err)}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		hint := "is the listener expecting TLS or SASL?"
		switch {
		case s.tlsWanted() && s.SASLMechanism != "":
			hint = "is it a plain-text listener, or are the SASL credentials refused?"
		case s.tlsWanted():
			hint = "is it a plain-text listener, or does it expect SASL?"
		case s.SASLMechanism != "":
			hint = "is the listener expecting TLS, or are the SASL credentials refused?"
		}
		return &checkError{err: fmt.Errorf("kafka %s: the broker closed the connection (%v): %s", broker, err, hint)}
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		hint := "is the broker running and the address right?"
		if s.tlsWanted() {
			hint = "is the broker running, the address right, and is it a TLS listener? A plain-text one does not answer a TLS handshake"
		}
		return &checkError{err: fmt.Errorf("kafka %s: %w (%s)", broker, err, hint), unreachable: true}
	}
	return &checkError{err: fmt.Errorf("kafka %s: %w", broker, err)}
}

func (s Security) build() (*tls.Config, sasl.Mechanism, error) {
	mech, err := s.mechanism()
	if err != nil {
		return nil, nil, err
	}
	if !s.tlsWanted() {
		return nil, mech, nil
	}
	tc, err := s.tlsConfig()
	return tc, mech, err
}

func (s Security) mechanism() (sasl.Mechanism, error) {
	m := strings.ToLower(strings.TrimSpace(s.SASLMechanism))
	if m == "" {
		if s.Username != "" || !s.Password.Empty() {
			return nil, fmt.Errorf("kafka: a SASL user or password is set but no SASL mechanism: choose one of %s", strings.Join(SASLMechanisms, ", "))
		}
		return nil, nil
	}
	switch m {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		return nil, fmt.Errorf("kafka: unknown SASL mechanism %q: use one of %s", s.SASLMechanism, strings.Join(SASLMechanisms, ", "))
	}
	if s.Username == "" {
		return nil, fmt.Errorf("kafka: SASL %s needs a user name", m)
	}
	if s.Password.Empty() {
		return nil, fmt.Errorf("kafka: SASL %s for user %q needs a password", m, s.Username)
	}
	switch m {
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password.Reveal()}, nil
	case SASLScramSHA256, SASLScramSHA512:
		algo := scram.SHA256
		if m == SASLScramSHA512 {
			algo = scram.SHA512
		}
		mech, err := scram.Mechanism(algo, s.Username, s.Password.Reveal())
		if err != nil {
			// The library's error may quote the password: do not pass it on.
			return nil, fmt.Errorf("kafka: SASL %s for user %q: the user name or password is not valid UTF-8 text SCRAM accepts", m, s.Username)
		}
		return mech, nil
	}
	panic("unreachable")
}

func (s Security) tlsConfig() (*tls.Config, error) {
	return tlsconfig.Client("kafka", s.CAFile, s.CertFile, s.KeyFile, s.ServerName, s.InsecureSkipVerify)
}
