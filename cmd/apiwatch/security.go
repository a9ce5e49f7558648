package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog/log"
	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/internal/secret"
	"github.com/apiwatch/apiwatch/internal/tlsconfig"
	"github.com/apiwatch/apiwatch/storage"
	"github.com/apiwatch/apiwatch/stream"
)

// Passwords never come from the command line (other users see it in ps)
// nor from --config: a file flag names a file holding one, or these
// variables hold it. They are the names config.go's automatic mapping
// would give a --kafka-password / --clickhouse-password flag; no such
// flag exists, so applyConfig never reads them, and a "kafka-password"
// key in a config file is refused as not a setting.
var (
	envKafkaPassword      = envName("kafka-password")      // APIWATCH_KAFKA_PASSWORD
	envClickhousePassword = envName("clickhouse-password") // APIWATCH_CLICKHOUSE_PASSWORD
)

// kafkaSecurityFlags are the TLS and SASL settings of a Kafka client.
type kafkaSecurityFlags struct {
	tls                           bool
	caFile, certFile, keyFile     string
	insecureSkipVerify            bool
	mechanism, user, passwordFile string
}

func (o *kafkaSecurityFlags) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.tls, "kafka-tls", false, "connect to Kafka with TLS (the brokers' TLS listener); implied by the other --kafka-tls options")
	f.StringVar(&o.caFile, "kafka-ca", "", "check the Kafka brokers' certificates against the CA certificate in this PEM `FILE` (default: the system's CAs; implies --kafka-tls)")
	f.StringVar(&o.certFile, "kafka-cert", "", "present the client certificate in this PEM `FILE` to brokers that require one (mutual TLS; with --kafka-key; implies --kafka-tls)")
	f.StringVar(&o.keyFile, "kafka-key", "", "the private key of --kafka-cert, an unencrypted PEM `FILE`")
	f.BoolVar(&o.insecureSkipVerify, "kafka-insecure-skip-verify", false, "use TLS but do not check the brokers' certificates (anyone on the path can read and change the traffic: tests only)")
	f.StringVar(&o.mechanism, "kafka-sasl", "", "authenticate to Kafka with this SASL `MECHANISM`: "+strings.Join(stream.SASLMechanisms, ", ")+" (plain sends the password as it is: use it with --kafka-tls); needs --kafka-user and a password")
	f.StringVar(&o.user, "kafka-user", "", "the SASL user `NAME` (with --kafka-sasl)")
	f.StringVar(&o.passwordFile, "kafka-password-file", "", "read the SASL password from this `FILE` (its content without the trailing newline); without it the password comes from the environment variable "+envKafkaPassword+". There is no --kafka-password: a password on the command line shows in ps")
}

// security returns the settings for stream.Security.Transport / Dialer,
// with the password read from its file or the environment. The errors
// name the flag to fix.
func (o *kafkaSecurityFlags) security() (stream.Security, error) {
	s := stream.Security{TLS: o.tls, CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile,
		InsecureSkipVerify: o.insecureSkipVerify, SASLMechanism: strings.ToLower(strings.TrimSpace(o.mechanism)), Username: o.user}
	pw, err := secret.Read(os.Getenv(envKafkaPassword), o.passwordFile)
	if err != nil {
		return stream.Security{}, fmt.Errorf("--kafka-password-file: %w", err)
	}
	s.Password = pw
	if s.SASLMechanism == "" {
		if o.user != "" || o.passwordFile != "" {
			return stream.Security{}, fmt.Errorf("--kafka-user or --kafka-password-file given without --kafka-sasl: add --kafka-sasl %s", strings.Join(stream.SASLMechanisms, "|"))
		}
		s.Password = "" // the environment may hold a password for another use
	} else {
		valid := false
		for _, m := range stream.SASLMechanisms {
			valid = valid || m == s.SASLMechanism
		}
		switch {
		case !valid:
			return stream.Security{}, fmt.Errorf("--kafka-sasl %q: use one of %s", o.mechanism, strings.Join(stream.SASLMechanisms, ", "))
		case s.Username == "":
			return stream.Security{}, fmt.Errorf("--kafka-sasl %s needs --kafka-user", s.SASLMechanism)
		case s.Password.Empty():
			return stream.Security{}, fmt.Errorf("--kafka-sasl %s needs a password: put it in a file named by --kafka-password-file, or in the environment variable %s", s.SASLMechanism, envKafkaPassword)
		}
	}
	// Read the certificate files now, so that a wrong path stops the
	// command before it starts.
	if _, err := s.Dialer(); err != nil {
		return stream.Security{}, fmt.Errorf("%w (--kafka-ca, --kafka-cert, --kafka-key)", err)
	}
	if s.SASLMechanism == stream.SASLPlain && s.Password != "" && !s.TLS && s.CAFile == "" && s.CertFile == "" && !s.InsecureSkipVerify {
		log.Warn().Msg("--kafka-sasl plain without --kafka-tls sends the Kafka password unencrypted")
	}
	return s, nil
}

// clickhouseSecurityFlags are the password and TLS settings of a
// ClickHouse client, beyond its DSN.
type clickhouseSecurityFlags struct {
	passwordFile              string
	tls                       bool
	caFile, certFile, keyFile string
	insecureSkipVerify        bool
}

func (o *clickhouseSecurityFlags) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.passwordFile, "clickhouse-password-file", "", "read the ClickHouse password from this `FILE` (its content without the trailing newline); it replaces the DSN's password. Without it the environment variable "+envClickhousePassword+" does, when set. There is no --clickhouse-password: a password on the command line shows in ps")
	f.BoolVar(&o.tls, "clickhouse-tls", false, "connect to ClickHouse with TLS (its tcp_port_secure, often 9440), as ?secure=true in the DSN does; implied by the other --clickhouse-tls options")
	f.StringVar(&o.caFile, "clickhouse-ca", "", "check the ClickHouse server's certificate against the CA certificate in this PEM `FILE` (default: the system's CAs; implies --clickhouse-tls)")
	f.StringVar(&o.certFile, "clickhouse-cert", "", "present the client certificate in this PEM `FILE` to a server that requires one (with --clickhouse-key; implies --clickhouse-tls)")
	f.StringVar(&o.keyFile, "clickhouse-key", "", "the private key of --clickhouse-cert, an unencrypted PEM `FILE`")
	f.BoolVar(&o.insecureSkipVerify, "clickhouse-insecure-skip-verify", false, "use TLS but do not check the ClickHouse server's certificate (anyone on the path can read and change the traffic: tests only; the DSN's skip_verify=true does the same)")
}

// options returns the settings for storage.OpenWith, with the password
// read from its file or the environment. The errors name the flag to fix.
func (o *clickhouseSecurityFlags) options() (storage.Options, error) {
	pw, err := secret.Read(os.Getenv(envClickhousePassword), o.passwordFile)
	if err != nil {
		return storage.Options{}, fmt.Errorf("--clickhouse-password-file: %w", err)
	}
	opts := storage.Options{Password: pw, TLS: o.tls, CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile, InsecureSkipVerify: o.insecureSkipVerify}
	if opts.TLS || opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "" || opts.InsecureSkipVerify {
		if _, err := tlsconfig.Client("clickhouse", opts.CAFile, opts.CertFile, opts.KeyFile, "", opts.InsecureSkipVerify); err != nil {
			return storage.Options{}, fmt.Errorf("%w (--clickhouse-ca, --clickhouse-cert, --clickhouse-key)", err)
		}
	}
	return opts, nil
}
