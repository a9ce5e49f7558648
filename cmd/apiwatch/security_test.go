package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/internal/testcert"
	"github.com/apiwatch/apiwatch/storage"
	"github.com/apiwatch/apiwatch/stream"
)

// securityCmd is a command with both flag sets, parsed from args and
// then completed from the environment and config file as the real
// commands are.
func securityCmd(t *testing.T, config string, args ...string) (*kafkaSecurityFlags, *clickhouseSecurityFlags) {
	t.Helper()
	var k kafkaSecurityFlags
	var c clickhouseSecurityFlags
	cmd := &cobra.Command{Use: "detect", RunE: func(*cobra.Command, []string) error { return nil }}
	k.addFlags(cmd.Flags())
	c.addFlags(cmd.Flags())
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(cmd, config); err != nil {
		t.Fatal(err)
	}
	return &k, &c
}

func secretFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKafkaSecurityFlags(t *testing.T) {
	certs := testcert.New(t)
	pwFile := secretFile(t, "kafka.pw", "file-pw\n")
	t.Setenv(envKafkaPassword, "env-pw")

	k, _ := securityCmd(t, "", "--kafka-tls", "--kafka-ca", certs.CAFile, "--kafka-cert", certs.ClientCertFile, "--kafka-key", certs.ClientKeyFile,
		"--kafka-sasl", "SCRAM-SHA-512", "--kafka-user", "sensor", "--kafka-password-file", pwFile)
	s, err := k.security()
	if err != nil {
		t.Fatal(err)
	}
	want := stream.Security{TLS: true, CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile,
		SASLMechanism: "scram-sha-512", Username: "sensor", Password: "file-pw"} // the file beats the environment
	if s != want {
		t.Errorf("security() = %s (password %q), want %s (password %q)", s, s.Password.Reveal(), want, want.Password.Reveal())
	}
	if d, err := s.Dialer(); err != nil || d.TLS == nil || d.SASLMechanism.Name() != "SCRAM-SHA-512" {
		t.Errorf("Dialer() = %v, %v", d, err)
	}

	// Without the file, the environment; the file's name may come from
	// the environment too (config.go's mapping).
	k, _ = securityCmd(t, "", "--kafka-sasl", "plain", "--kafka-user", "sensor")
	if s, err := k.security(); err != nil || s.Password.Reveal() != "env-pw" {
		t.Errorf("password from %s: %q, %v", envKafkaPassword, s.Password.Reveal(), err)
	}
	t.Setenv("APIWATCH_KAFKA_PASSWORD_FILE", pwFile)
	k, _ = securityCmd(t, "", "--kafka-sasl", "plain", "--kafka-user", "sensor")
	if s, err := k.security(); err != nil || s.Password.Reveal() != "file-pw" {
		t.Errorf("password file from APIWATCH_KAFKA_PASSWORD_FILE: %q, %v", s.Password.Reveal(), err)
	}
	os.Unsetenv("APIWATCH_KAFKA_PASSWORD_FILE")

	// No flags: plain TCP, whatever the environment holds.
	k, _ = securityCmd(t, "")
	if s, err := k.security(); err != nil || s.Enabled() || !s.Password.Empty() {
		t.Errorf("no flags: %s, %v; want plain TCP", s, err)
	}
	// Options alone imply TLS.
	k, _ = securityCmd(t, "", "--kafka-ca", certs.CAFile)
	if s, err := k.security(); err != nil || !s.Enabled() {
		t.Errorf("--kafka-ca alone: %s, %v; want TLS", s, err)
	}
}

func TestKafkaSecurityFlagErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such.pw")
	empty := secretFile(t, "empty.pw", "\n")
	t.Setenv(envKafkaPassword, "")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--kafka-sasl", "plain", "--kafka-user", "u", "--kafka-password-file", missing}, []string{"--kafka-password-file", missing, "does not exist"}},
		{[]string{"--kafka-sasl", "plain", "--kafka-user", "u", "--kafka-password-file", empty}, []string{"--kafka-password-file", "is empty"}},
		{[]string{"--kafka-sasl", "gssapi", "--kafka-user", "u"}, []string{`--kafka-sasl "gssapi"`, "plain, scram-sha-256, scram-sha-512"}},
		{[]string{"--kafka-sasl", "plain"}, []string{"needs --kafka-user"}},
		{[]string{"--kafka-sasl", "scram-sha-256", "--kafka-user", "u"}, []string{"needs a password", "--kafka-password-file", envKafkaPassword}},
		{[]string{"--kafka-user", "u"}, []string{"without --kafka-sasl"}},
		{[]string{"--kafka-ca", missing}, []string{"cannot read the CA file " + missing, "--kafka-ca"}},
		{[]string{"--kafka-cert", missing}, []string{"without its key"}},
	} {
		k, _ := securityCmd(t, "", c.args...)
		_, err := k.security()
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %q", c.args, err, w)
			}
		}
	}
}

func TestClickhouseSecurityFlags(t *testing.T) {
	certs := testcert.New(t)
	pwFile := secretFile(t, "ch.pw", "file-pw\n")
	t.Setenv(envClickhousePassword, "env-pw")

	_, c := securityCmd(t, "", "--clickhouse-ca", certs.CAFile, "--clickhouse-password-file", pwFile, "--clickhouse-insecure-skip-verify")
	o, err := c.options()
	if err != nil {
		t.Fatal(err)
	}
	if want := (storage.Options{Password: "file-pw", CAFile: certs.CAFile, InsecureSkipVerify: true}); o != want {
		t.Errorf("options() = %+v, want %+v (passwords %q, %q)", o, want, o.Password.Reveal(), want.Password.Reveal())
	}
	_, c = securityCmd(t, "", "--clickhouse-tls")
	if o, err := c.options(); err != nil || o.Password.Reveal() != "env-pw" || !o.TLS {
		t.Errorf("password from %s: %+v (%q), %v", envClickhousePassword, o, o.Password.Reveal(), err)
	}
	t.Setenv(envClickhousePassword, "")
	os.Unsetenv(envClickhousePassword)
	_, c = securityCmd(t, "")
	if o, err := c.options(); err != nil || o != (storage.Options{}) {
		t.Errorf("no flags: %+v, %v; want the zero Options (the DSN alone)", o, err)
	}

	missing := filepath.Join(t.TempDir(), "no-such")
	for args, want := range map[string]string{
		"--clickhouse-password-file=" + missing: "--clickhouse-password-file: secret file " + missing + " does not exist",
		"--clickhouse-ca=" + missing:            "cannot read the CA file " + missing,
		"--clickhouse-key=" + certs.KeyFile:     "without its certificate",
	} {
		_, c := securityCmd(t, "", args)
		if _, err := c.options(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error saying %q", args, err, want)
		}
	}
}

// TestSecurityFlagsNoPasswordLeak: no flag takes a password itself, a
// config file cannot hold one, and nothing prints it.
func TestSecurityFlagsNoPasswordLeak(t *testing.T) {
	const kpw, cpw = "kafka-pw-SECRET", "ch-pw-SECRET"
	t.Setenv(envKafkaPassword, kpw)
	t.Setenv(envClickhousePassword, cpw)
	var k kafkaSecurityFlags
	var c clickhouseSecurityFlags
	f := pflag.NewFlagSet("x", pflag.ContinueOnError)
	k.addFlags(f)
	c.addFlags(f)
	f.VisitAll(func(fl *pflag.Flag) {
		if strings.HasSuffix(fl.Name, "password") {
			t.Errorf("flag --%s takes a password on the command line", fl.Name)
		}
		if len(fl.Usage) < 20 {
			t.Errorf("--%s: help %q does not say what to give", fl.Name, fl.Usage)
		}
	})
	for _, name := range []string{"kafka-password", "clickhouse-password"} {
		cfg := secretFile(t, "c.yaml", name+": x\n")
		cmd := &cobra.Command{Use: "detect"}
		cmd.Flags().AddFlagSet(f)
		if err := applyConfig(cmd, cfg); err == nil || !strings.Contains(err.Error(), "is not a setting") {
			t.Errorf("config key %s: %v; want it refused", name, err)
		}
	}
	if u := f.Lookup("kafka-password-file").Usage; !strings.Contains(u, envKafkaPassword) || !strings.Contains(u, "ps") {
		t.Errorf("--kafka-password-file help does not name %s and why there is no --kafka-password: %s", envKafkaPassword, u)
	}
	if u := f.Lookup("clickhouse-password-file").Usage; !strings.Contains(u, envClickhousePassword) {
		t.Errorf("--clickhouse-password-file help does not name %s: %s", envClickhousePassword, u)
	}

	k2, c2 := securityCmd(t, "", "--kafka-sasl", "scram-sha-256", "--kafka-user", "sensor", "--kafka-tls")
	s, err := k2.security()
	if err != nil {
		t.Fatal(err)
	}
	o, err := c2.options()
	if err != nil {
		t.Fatal(err)
	}
	if s.Password.Reveal() != kpw || o.Password.Reveal() != cpw {
		t.Fatalf("passwords %q %q not read from the environment", s.Password.Reveal(), o.Password.Reveal())
	}
	for _, out := range []string{
		fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprint(s),
		fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprint(o),
		fmt.Sprintf("%+v %+v", *k2, *c2),
	} {
		if strings.Contains(out, kpw) || strings.Contains(out, cpw) {
			t.Errorf("printed a password: %s", out)
		}
	}
	t.Logf("%v | %+v", s, o)
}
