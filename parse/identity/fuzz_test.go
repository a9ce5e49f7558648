package identity

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzResolver(f *testing.F) {
	f.Add("Bearer "+mkJWT(`{"iss":"https://idp","sub":"u1"}`), "sk_live_abcdef123456", "sid=sessionvalue123", "1.2.3.4, 10.0.0.1", `{"username":"alice","password":"hunter2hunter2"}`, `{"access_token":"tok123456789"}`, 200)
	f.Add(basic("bob", "pw-bob-123456"), "", "JSESSIONID=\"abc\"", `for="[2001:db8::1]:4711";proto=https`, "username=bob&password=pw-bob-123456&grant_type=password", `{"success":false}`, 401)
	f.Add("Digest username=\"x\\\"y\", realm=r", "eyJ.eyJ.x", "_a_session=v; __Host-sid=w", "_hidden, unknown, [::1]:80", `{"user":{"email":"a\u0040b","pass":"p`, "<html>Invalid password</html>", 302)
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/2020", "k%41%zz", "", "", `[[[[{"a":{"b":"`, `{"error":null,"errors":[],"ok":true}`, 204)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := newTest(Config{TrustedProxies: trusted, LoginPaths: []string{"/custom/{x}"}})
	f.Fuzz(func(t *testing.T, auth, apiKey, cookie, fwd, reqBody, respBody string, status int) {
		q := strings.NewReplacer("&", "", "#", "").Replace(apiKey)
		rq := req("POST", "/api/login?api_key="+q+"&user_id="+q, reqBody,
			"Authorization", auth, "X-API-Key", apiKey, "Cookie", cookie,
			"X-Forwarded-For", fwd, "Forwarded", fwd, "Content-Type", "application/json")
		rs := resp(status, respBody, "Set-Cookie", cookie, "Location", fwd)
		ip := r.ClientIP(rq, netip.MustParseAddr("10.0.0.9"))
		a := r.Actor(rq, ip)
		var outs, hashes []string
		outs = append(outs, a.Issuer)
		hashes = append(hashes, a.ID)
		for _, path := range []string{"", "/custom/a", "/oauth/token", "/x"} {
			l := r.Login(rq, rs, path)
			hashes = append(hashes, l.UsernameHash)
			rq.Headers[4].Value = []byte("application/x-www-form-urlencoded")
		}
		for _, o := range r.ObjectIDs([]Param{{"id", apiKey, false}, {"n", cookie, true}}, string(rawQuery(rq.Target)), nil) {
			hashes = append(hashes, o.Hash)
			outs = append(outs, o.Param)
		}
		red := string(RedactQuery(string(rawQuery(rq.Target)), nil))
		for _, h := range hashes {
			if h != "" && !isHash(h) {
				t.Fatalf("not a hash: %q", h)
			}
		}
		if !strings.HasPrefix(red, "api_key=") {
			t.Fatalf("redacted %q", red)
		}
		for _, s := range []string{auth, cookie} {
			if len(s) > 8 && strings.Contains(a.Issuer, s) {
				t.Fatalf("issuer %q holds input %q", a.Issuer, s)
			}
		}
		if len(q) > 8 && strings.Contains(red, q) {
			t.Fatalf("redacted query %q holds %q", red, q)
		}
		for _, o := range outs {
			if len(apiKey) > 8 && strings.Contains(o, apiKey) && o != "" {
				t.Fatalf("output %q holds api key %q", o, apiKey)
			}
		}
	})
}
