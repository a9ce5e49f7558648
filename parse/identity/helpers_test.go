package identity

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/parse/http1"
)

var testSecret = []byte("0123456789abcdef-deployment-secret")

func newTest(cfg Config) *Resolver {
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	return New(cfg)
}

// req builds a request; hdrs are name, value pairs.
func req(method, target, body string, hdrs ...string) *http1.Message {
	m := &http1.Message{IsRequest: true, Method: []byte(method), Target: []byte(target), Body: []byte(body)}
	for i := 0; i+1 < len(hdrs); i += 2 {
		m.Headers = append(m.Headers, http1.Header{Name: []byte(hdrs[i]), Value: []byte(hdrs[i+1])})
	}
	return m
}

func resp(status int, body string, hdrs ...string) *http1.Message {
	m := &http1.Message{Status: status, Body: []byte(body)}
	for i := 0; i+1 < len(hdrs); i += 2 {
		m.Headers = append(m.Headers, http1.Header{Name: []byte(hdrs[i]), Value: []byte(hdrs[i+1])})
	}
	return m
}

func b64u(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mkJWT(payload string) string {
	return b64u(`{"alg":"RS256","typ":"JWT","kid":"k1"}`) + "." + b64u(payload) + ".c2lnbmF0dXJlLWJ5dGVzLW5vdC12ZXJpZmllZA"
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// noSecrets fails when any secret (and, for secrets longer than 8 bytes,
// any of their case variants) appears in any output.
func noSecrets(t *testing.T, outputs []string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, o := range outputs {
			if strings.Contains(strings.ToLower(o), strings.ToLower(s)) {
				t.Errorf("secret %q leaked in output %q", s, o)
			}
		}
	}
}

func isHash(s string) bool {
	if len(s) != HashLen {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
