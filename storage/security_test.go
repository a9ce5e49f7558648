package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/internal/testcert"
	"github.com/apiwatch/apiwatch/internal/testnet"
	"github.com/apiwatch/apiwatch/storage"
)

const (
	chUser     = "apiwatch"
	chPassword = "Ch-s3cret-pw"
)

// secureServer runs a clickhouse-server of its own with a plain port, a
// TLS port (certificate from certs) and a user chUser with chPassword,
// for the length of the test.
func secureServer(t *testing.T, certs *testcert.Set) (plainPort, tlsPort int) {
	t.Helper()
	chtest.Require(t) // skips (or fails in CI) without the test server
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run the ClickHouse tests: clickhouse-server is not installed (make test installs it)")
		}
		t.Skip("needs clickhouse-server installed")
	}
	dir := t.TempDir()
	for _, d := range []string{"data", "tmp", "log"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	plainPort, tlsPort, httpPort := testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/log/clickhouse-server.log</log>
        <errorlog>%[1]s/log/clickhouse-server.err.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <tcp_port_secure>%[3]d</tcp_port_secure>
    <http_port>%[4]d</http_port>
    <openSSL>
        <server>
            <certificateFile>%[5]s</certificateFile>
            <privateKeyFile>%[6]s</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`, dir, plainPort, tlsPort, httpPort, certs.CertFile, certs.KeyFile)
	sum := sha256.Sum256([]byte(chPassword))
	users := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <%[1]s>
            <password_sha256_hex>%[2]s</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </%[1]s>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`, chUser, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("clickhouse-server", "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(httpPort) + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return plainPort, tlsPort
			}
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "log", "clickhouse-server.err.log"))
			t.Fatalf("clickhouse-server exited: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log", "clickhouse-server.err.log"))
			t.Fatalf("clickhouse-server did not answer within 15 s\n%s", log)
		}
	}
}

// TestOpenSecure connects over TLS with a password from Options (and from
// the DSN's secure=true form), and checks that a wrong password, plain
// TCP to the TLS port, TLS to the plain port and an untrusted CA each
// fail with an error that says so and never holds the password.
func TestOpenSecure(t *testing.T) {
	certs := testcert.New(t)
	other := testcert.New(t)
	plainPort, tlsPort := secureServer(t, certs)
	plain := "127.0.0.1:" + strconv.Itoa(plainPort)
	secure := "127.0.0.1:" + strconv.Itoa(tlsPort)

	open := func(t *testing.T, dsn string, o storage.Options) (*storage.Store, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := storage.OpenWith(ctx, dsn, o)
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, err
	}
	migrated := func(t *testing.T, s *storage.Store) {
		t.Helper()
		var n uint64
		if err := s.Conn().QueryRow(context.Background(), "SELECT count() FROM system.tables WHERE database = ? AND name = 'events'", s.Database()).Scan(&n); err != nil || n != 1 {
			t.Errorf("events table in %s: %d, %v; want the migrations applied", s.Database(), n, err)
		}
	}

	t.Run("tls with the CA and a password option", func(t *testing.T) {
		// The option's password replaces the DSN's.
		s, err := open(t, "clickhouse://"+chUser+":not-this-one@"+secure+"/sec_opts?dial_timeout=3s",
			storage.Options{Password: chPassword, TLS: true, CAFile: certs.CAFile})
		if err != nil {
			t.Fatal(err)
		}
		migrated(t, s)
	})
	t.Run("tls from the DSN", func(t *testing.T) {
		s, err := open(t, "clickhouse://"+chUser+":"+chPassword+"@"+secure+"/sec_dsn?secure=true&skip_verify=true&dial_timeout=3s", storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		migrated(t, s)
		// The CA file, with the DSN's secure=true.
		if _, err := open(t, "clickhouse://"+chUser+"@"+secure+"/sec_dsn?secure=true&dial_timeout=3s", storage.Options{Password: chPassword, CAFile: certs.CAFile}); err != nil {
			t.Fatal(err)
		}
	})

	for _, c := range []struct {
		name string
		dsn  string
		o    storage.Options
		want []string
	}{
		{"wrong password option", "clickhouse://" + chUser + "@" + secure + "/sec_bad?dial_timeout=3s",
			storage.Options{Password: "wrong-pw-123", TLS: true, CAFile: certs.CAFile},
			[]string{`refused user "apiwatch"`, "check the user name and the password"}},
		{"wrong password in the DSN", "clickhouse://" + chUser + ":wrong-pw-123@" + plain + "/sec_bad?dial_timeout=3s",
			storage.Options{}, []string{`refused user "apiwatch"`}},
		{"plain TCP to the TLS port", "clickhouse://" + chUser + "@" + secure + "/sec_bad?dial_timeout=2s",
			storage.Options{Password: chPassword}, []string{"turn TLS on"}},
		{"TLS to the plain port", "clickhouse://" + chUser + "@" + plain + "/sec_bad?dial_timeout=2s",
			storage.Options{Password: chPassword, TLS: true, CAFile: certs.CAFile}, []string{"TLS", "port"}},
		{"untrusted CA", "clickhouse://" + chUser + "@" + secure + "/sec_bad?dial_timeout=3s",
			storage.Options{Password: chPassword, TLS: true, CAFile: other.CAFile}, []string{"not signed by a trusted CA", "CA file"}},
		{"system CAs", "clickhouse://" + chUser + "@" + secure + "/sec_bad?secure=true&dial_timeout=3s",
			storage.Options{Password: chPassword}, []string{"not signed by a trusted CA"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := open(t, c.dsn, c.o)
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("%v (after %v)", err, time.Since(start).Round(time.Millisecond))
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q", w)
				}
			}
			for _, pw := range []string{chPassword, "wrong-pw-123"} {
				if strings.Contains(err.Error(), pw) {
					t.Errorf("error shows the password %q", pw)
				}
			}
		})
	}
}

// TestOpenWithBadFiles needs no server: certificate files are read first.
func TestOpenWithBadFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pem")
	_, err := storage.OpenWith(context.Background(), "clickhouse://u:pw-in-dsn@127.0.0.1:1/db", storage.Options{CAFile: missing, Password: "pw-in-opts"})
	if err == nil || !strings.Contains(err.Error(), "cannot read the CA file "+missing) {
		t.Errorf("missing CA file: %v; want an error naming it", err)
	}
	if err != nil && (strings.Contains(err.Error(), "pw-in-dsn") || strings.Contains(err.Error(), "pw-in-opts")) {
		t.Errorf("error shows a password: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", storage.Options{Password: "pw-in-opts"}, storage.Options{Password: "pw-in-opts"}, storage.Options{Password: "pw-in-opts"}); strings.Contains(s, "pw-in-opts") {
		t.Errorf("Options print their password: %s", s)
	}
}
