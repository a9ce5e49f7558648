package normalize

import (
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/identity"
)

// FuzzEvent: whatever a transaction holds, its event encodes, and no
// credential of it (Authorization, Cookie, API key) appears in the event.
// The parts have fuzz targets of their own (FuzzTemplate, FuzzResolver,
// FuzzAnalyze); this one exercises how the Normalizer puts them together,
// faster than FuzzPipeline can through TCP and HTTP framing.
const fuzzJWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImlzcyI6Imh0dHBzOi8vaWRwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

func FuzzEvent(f *testing.F) {
	f.Add("GET", "/api/v1/users/42?id=7&page=2", "api.example.com", "Bearer "+fuzzJWT, "sid=abcdefgh12345", "", "application/json", "", 200, "application/json", `{"data":[{"email":"a@example.com"}]}`)
	f.Add("POST", "/auth/login", "auth.example.com", "", "", "", "application/json", `{"username":"bob","password":"hunter2hunter2"}`, 401, "application/json", `{"error":"invalid credentials"}`)
	f.Add("POST", "/oauth/token", "h", "Basic Ym9iOnB3LWJvYi0xMjM0NTY=", "", "k-1234567890abcdef", "application/x-www-form-urlencoded", "grant_type=password&username=x&password=y", 200, "application/json", `{"access_token":"tok-0123456789"}`)
	f.Add("PUT", "http://evil.example/x/{y}/%zz?a[b]=1&user_id=x", "\xff", "Bearer eyJhbGciOs0.IA.", "\x00=\x00", "\xfe", "text/html; charset=\xff", "\xff\xfe", 0, "", "\xed\xa0\x80")
	r := identity.New(identity.Config{Secret: []byte("fuzz")})
	n := New(Config{Identity: r, AnalyzeEvery: 1})
	f.Fuzz(func(t *testing.T, method, target, host, auth, cookie, apiKey, reqCT, reqBody string, status int, respCT, respBody string) {
		req := &http1.Message{IsRequest: true, Method: []byte(method), Target: []byte(target), Body: []byte(reqBody), DecodedLen: int64(len(reqBody)), Start: 1e9, End: 2e9}
		for _, h := range [][2]string{{"Host", host}, {"Authorization", auth}, {"Cookie", cookie}, {"X-API-Key", apiKey}, {"Content-Type", reqCT}} {
			if h[1] != "" {
				req.Headers = append(req.Headers, http1.Header{Name: []byte(h[0]), Value: []byte(h[1])})
			}
		}
		resp := &http1.Message{Status: status % 1000, Body: []byte(respBody), DecodedLen: int64(len(respBody)), Start: 2e9, End: 3e9,
			Headers: []http1.Header{{Name: []byte("Content-Type"), Value: []byte(respCT)}}}
		e := n.Event(&parse.Transaction{Flow: testFlow, Request: req, Response: resp})
		if _, err := event.Marshal(nil, e); err != nil {
			t.Fatalf("event does not encode: %v", err)
		}
		js, err := event.MarshalJSON(e)
		if err != nil {
			t.Fatalf("event does not encode as JSON: %v", err)
		}
		public := strings.Join([]string{method, target, host, reqCT, reqBody, respCT, respBody}, "\x00")
		for _, secret := range []string{strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")), cookie, apiKey} {
			// Long enough not to be a word of the event's own (a template,
			// a field name, a media type), and not also sent in the open.
			if len(secret) >= 16 && !strings.Contains(public, secret) && strings.Contains(string(js), secret) {
				t.Fatalf("event holds the credential %q: %s", secret, js)
			}
		}
	})
}
