package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apiwatch/apiwatch/internal/testcert"
)

const testPassword = "s3cret-p4ss"

// secureBroker starts an in-process broker with the given security
// options and one partition of topic.
func secureBroker(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestSecurityZeroIsPlainTCP(t *testing.T) {
	var s Security
	tr, err := s.Transport()
	if tr != nil || err != nil {
		t.Errorf("Transport() = %v, %v; want nil, nil", tr, err)
	}
	d, err := s.Dialer()
	if d != nil || err != nil {
		t.Errorf("Dialer() = %v, %v; want nil, nil", d, err)
	}
	if s.Enabled() {
		t.Error("zero Security is enabled")
	}
}

func TestSecurityErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	certs := testcert.New(t)
	missing := filepath.Join(dir, "no-such-ca.pem")
	for _, c := range []struct {
		name string
		s    Security
		want []string
	}{
		{"unknown mechanism", Security{SASLMechanism: "gssapi", Username: "u", Password: testPassword},
			[]string{`unknown SASL mechanism "gssapi"`, "plain, scram-sha-256, scram-sha-512"}},
		{"no user", Security{SASLMechanism: "plain", Password: testPassword}, []string{"SASL plain needs a user name"}},
		{"no password", Security{SASLMechanism: "scram-sha-256", Username: "u"}, []string{`user "u" needs a password`}},
		{"user without mechanism", Security{Username: "u", Password: testPassword}, []string{"no SASL mechanism", "scram-sha-512"}},
		{"unreadable CA", Security{TLS: true, CAFile: missing}, []string{"cannot read the CA file " + missing, "no such file"}},
		{"CA not PEM", Security{TLS: true, CAFile: notPEM}, []string{"CA file " + notPEM + " holds no PEM certificate"}},
		{"cert without key", Security{TLS: true, CertFile: certs.ClientCertFile}, []string{"without its key"}},
		{"key without cert", Security{TLS: true, KeyFile: certs.ClientKeyFile}, []string{"without its certificate"}},
		{"key not matching", Security{TLS: true, CertFile: certs.ClientCertFile, KeyFile: certs.KeyFile}, []string{"client certificate", "private key does not match"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, terr := c.s.Transport()
			_, derr := c.s.Dialer()
			for _, err := range []error{terr, derr} {
				if err == nil {
					t.Fatalf("no error, want one saying %q", c.want)
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), testPassword) {
					t.Errorf("error %q shows the password", err)
				}
			}
		})
	}
	// Mechanism names are case-insensitive; TLS options imply TLS.
	s := Security{SASLMechanism: "SCRAM-SHA-512", Username: "u", Password: "p", CAFile: certs.CAFile}
	d, err := s.Dialer()
	if err != nil || d.SASLMechanism == nil || d.SASLMechanism.Name() != "SCRAM-SHA-512" || d.TLS == nil || d.TLS.RootCAs == nil {
		t.Errorf("Dialer() = %+v, %v; want SCRAM-SHA-512 over TLS with the CA", d, err)
	}
}

func TestSecurityNeverPrintsPassword(t *testing.T) {
	s := Security{TLS: true, CAFile: "/etc/ca.pem", SASLMechanism: "plain", Username: "sensor", Password: testPassword}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s),
		fmt.Sprintf("%s", s), fmt.Sprintf("%v", &s), fmt.Sprintf("%+v", []Security{s}), fmt.Sprintf("%+v", struct{ S Security }{s}),
		fmt.Sprintf("%v %+v %#v %s %q %x", s.Password, s.Password, s.Password, s.Password, s.Password, s.Password),
		string(js)} {
		if strings.Contains(out, testPassword) || strings.Contains(out, fmt.Sprintf("%x", testPassword)) {
			t.Errorf("printed the password: %s", out)
		}
	}
	if got := s.String(); !strings.Contains(got, "sensor") || !strings.Contains(got, "[redacted]") || !strings.Contains(got, "/etc/ca.pem") {
		t.Errorf("String() = %q; want the user, the CA file and [redacted]", got)
	}
}

// TestSecurityBroker produces events with a Producer and reads them back
// with a kafka.Reader, both through the security settings, against a real
// Kafka-protocol broker that demands them.
func TestSecurityBroker(t *testing.T) {
	certs := testcert.New(t)
	for _, c := range []struct {
		name   string
		broker []kfake.Opt
		client Security
	}{
		{"tls+plain", []kfake.Opt{kfake.TLS(certs.ServerConfig(false)), kfake.EnableSASL(), kfake.Superuser("PLAIN", "sensor", testPassword)},
			Security{TLS: true, CAFile: certs.CAFile, SASLMechanism: "plain", Username: "sensor", Password: testPassword}},
		{"tls+scram-sha-256", []kfake.Opt{kfake.TLS(certs.ServerConfig(false)), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "sensor", testPassword)},
			Security{TLS: true, CAFile: certs.CAFile, SASLMechanism: "scram-sha-256", Username: "sensor", Password: testPassword}},
		{"scram-sha-512", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "sensor", testPassword)},
			Security{SASLMechanism: "scram-sha-512", Username: "sensor", Password: testPassword}},
		{"mutual-tls", []kfake.Opt{kfake.TLS(certs.ServerConfig(true))},
			Security{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := secureBroker(t, c.broker...)
			tr, err := c.client.Transport()
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewProducer(ProducerConfig{Brokers: []string{addr}, Topic: topic, Transport: tr, BatchTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			const n = 50
			for i := range n {
				if !p.Publish(numbered(i)) {
					t.Fatal("publish refused")
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Sent != n || st.Errors != 0 {
				t.Fatalf("producer stats %+v, want %d sent and no errors", st, n)
			}

			d, err := c.client.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, Dialer: d, MaxWait: 50 * time.Millisecond})
			defer r.Close()
			for i := range n {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !strings.Contains(string(m.Key), "/e") {
					t.Fatalf("message %d: key %q", i, m.Key)
				}
			}
		})
	}
}

// TestSecurityBrokerRejects checks that a wrong password, an untrusted CA
// or plain TCP to a TLS broker fail with an error, promptly.
func TestSecurityBrokerRejects(t *testing.T) {
	certs := testcert.New(t)
	other := testcert.New(t) // a CA the broker's certificate is not from
	tlsSCRAM := []kfake.Opt{kfake.TLS(certs.ServerConfig(false)), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "sensor", testPassword)}
	plainSASL := []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "sensor", testPassword)}
	for _, c := range []struct {
		name   string
		broker []kfake.Opt
		client Security
		want   string // in the error, case-insensitive
		hint   string // in Check's error
	}{
		{"wrong scram password", tlsSCRAM,
			Security{TLS: true, CAFile: certs.CAFile, SASLMechanism: "scram-sha-256", Username: "sensor", Password: "wrong-password"}, "sasl", `SASL scram-sha-256 authentication failed for user "sensor": check`},
		{"wrong plain password", plainSASL,
			Security{SASLMechanism: "plain", Username: "sensor", Password: "wrong-password"}, "sasl", `SASL plain authentication failed for user "sensor"`},
		{"unknown user", plainSASL,
			Security{SASLMechanism: "plain", Username: "nobody", Password: "wrong-password"}, "sasl", `for user "nobody"`},
		{"untrusted CA", tlsSCRAM,
			Security{TLS: true, CAFile: other.CAFile, SASLMechanism: "scram-sha-256", Username: "sensor", Password: testPassword}, "certificate", "not signed by a trusted CA"},
		{"system CAs", tlsSCRAM,
			Security{TLS: true, SASLMechanism: "scram-sha-256", Username: "sensor", Password: testPassword}, "certificate", "give the CA that signed it"},
		{"missing client certificate", []kfake.Opt{kfake.TLS(certs.ServerConfig(true))},
			Security{TLS: true, CAFile: certs.CAFile}, "", "client certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := secureBroker(t, c.broker...)
			check := func(what string, err error, took time.Duration) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", what)
				}
				if errors.Is(err, context.DeadlineExceeded) || took > 8*time.Second {
					t.Fatalf("%s: took %v to fail (%v); want a prompt error", what, took, err)
				}
				msg := strings.ToLower(err.Error())
				// kfake closes the connection on a failed SASL exchange
				// where Kafka answers error 58 first; kafka-go's writer
				// then reports "unexpected EOF".
				if !strings.Contains(msg, c.want) && !(what == "writer" && c.want == "sasl" && strings.Contains(msg, "eof")) {
					t.Errorf("%s: error %q does not say %q", what, err, c.want)
				}
				for _, pw := range []string{testPassword, "wrong-password"} {
					if strings.Contains(err.Error(), pw) {
						t.Errorf("%s: error %q shows the password", what, err)
					}
				}
				t.Logf("%s: %v (after %v)", what, err, took.Round(time.Millisecond))
			}

			d, err := c.client.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				// A TLS 1.3 client learns of a refused client
				// certificate on its first read.
				_, err = conn.ReadPartitions(topic)
				conn.Close()
			}
			check("dialer", err, time.Since(start))

			start = time.Now()
			err = c.client.Check(ctx, []string{addr})
			check("check", err, time.Since(start))
			if !strings.Contains(err.Error(), c.hint) || IsUnreachable(err) {
				t.Errorf("check: %q does not say %q, or says unreachable", err, c.hint)
			}

			tr, err := c.client.Transport()
			if err != nil {
				t.Fatal(err)
			}
			w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Transport: tr, MaxAttempts: 1, RequiredAcks: kafka.RequireAll}
			defer w.Close()
			start = time.Now()
			err = w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
			check("writer", err, time.Since(start))
		})
	}

	t.Run("plaintext to a TLS broker", func(t *testing.T) {
		addr := secureBroker(t, kfake.TLS(certs.ServerConfig(false)))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, MaxAttempts: 1, Transport: &kafka.Transport{DialTimeout: time.Second}}
		defer w.Close()
		err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
		if err == nil {
			t.Fatal("plain TCP to a TLS broker: no error")
		}
		t.Logf("%v (after %v)", err, time.Since(start).Round(time.Millisecond))
		err = Security{}.Check(ctx, []string{addr})
		if err == nil || !strings.Contains(err.Error(), "expecting TLS") {
			t.Errorf("Check: %v; want an error asking whether the listener expects TLS", err)
		}
	})

	t.Run("TLS to a plaintext broker", func(t *testing.T) {
		// A Kafka broker reads a TLS hello as the size of a huge request
		// and waits for it (kfake) or closes the connection (Kafka).
		addr := secureBroker(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := Security{TLS: true, CAFile: certs.CAFile}.Check(ctx, []string{addr})
		if err == nil || !strings.Contains(err.Error(), "is it a TLS listener?") {
			t.Errorf("Check: %v; want an error asking whether the broker is a TLS listener", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := Security{}.Check(ctx, []string{"127.0.0.1:1"})
		if err == nil || !IsUnreachable(err) || !strings.Contains(err.Error(), "is the broker running") {
			t.Errorf("Check: %v; want an unreachable error", err)
		}
		if err := (Security{}).Check(ctx, []string{secureBroker(t)}); err != nil {
			t.Errorf("Check on a plain broker: %v", err)
		}
	})
}
