package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of the generic webhook.
const (
	// SignatureHeader holds "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">": see Verify.
	SignatureHeader = "X-Apiwatch-Signature"
	// TimestampHeader holds the same unix seconds as the signature's t.
	TimestampHeader = "X-Apiwatch-Timestamp"
	// EventHeader says "trigger" (a new incident, or its severity rose) or
	// "resolve" (it ended). The body is the finding in both cases.
	EventHeader = "X-Apiwatch-Event"
)

// webhookFormat posts the finding's JSON, signed.
type webhookFormat struct{ secret []byte }

func (w webhookFormat) body(j *job) ([]byte, error) { return json.Marshal(j.f) }

func (w webhookFormat) header(h http.Header, j *job, body []byte, now time.Time) {
	h.Set(EventHeader, j.action.String())
	h.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	h.Set(SignatureHeader, sign(w.secret, body, now))
}

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, body []byte, t time.Time) string { return sign([]byte(secret), body, t) }

func sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrSignatureMissing  = errors.New("alert: no t= and v1= in the signature header")
	ErrSignatureMismatch = errors.New("alert: signature does not match the body (wrong secret, or the body changed)")
	ErrSignatureExpired  = errors.New("alert: signature timestamp outside the tolerance (a replay, or clocks apart)")
)

// Verify checks a SignatureHeader value against the raw body received:
// one of its v1 values must be the HMAC-SHA256 of "<t>.<body>" under
// secret, and t within tolerance of now (tolerance <= 0 skips that check:
// only for re-checking stored deliveries). Receivers should use a
// tolerance of a few minutes and compare the body bytes exactly as read.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	want := mac([]byte(secret), ts, body)
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok
	}
	if !ok {
		return ErrSignatureMismatch
	}
	if tolerance > 0 {
		if age := time.Since(time.Unix(t, 0)); age > tolerance || age < -tolerance {
			return ErrSignatureExpired
		}
	}
	return nil
}
