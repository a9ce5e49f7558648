package identity

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestActor(t *testing.T) {
	r := newTest(Config{})
	ip := netip.MustParseAddr("198.51.100.9")
	jwtAlice := mkJWT(`{"iss":"https://idp.example.com/","sub":"alice-42","exp":1700000000,"email":"alice@example.com"}`)
	jwtAlice2 := mkJWT(`{"iss":"https:\/\/idp.example.com\/","sub":"alice-42","exp":1800000000,"jti":"other"}`)
	jwtClient := mkJWT(`{"iss":"https://idp.example.com/","client_id":"billing-svc","scope":"read"}`)
	jwtNoIss := mkJWT(`{"sub":"bob"}`)
	jwtNumSub := mkJWT(`{"iss":"x","sub":12345}`)
	jwtNoClaims := mkJWT(`{"iss":"https://idp.example.com/","exp":1}`)
	jwtNested := mkJWT(`{"act":{"sub":"admin"},"iss":"i","sub":"carol"}`)
	jwe := "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"
	opaque := "ya29.a0AfH6SMBx-opaque-access-token-value"
	apiKey := "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	sess := "s%3AJ2sd9fHk3kLm.9xY7abcDEFghiJKL"

	want := func(kind Kind, domain, value string) Actor {
		return Actor{ID: r.Hash(domain, []byte(value)), Kind: kind}
	}
	jwtID := func(iss, sub string) Actor {
		return Actor{ID: r.Hash(DomainJWT, []byte(iss+"|"+sub)), Kind: KindJWT, Issuer: iss}
	}
	cases := []struct {
		name    string
		target  string
		hdrs    []string
		want    Actor
		secrets []string
	}{
		{"JWT", "/v1/me", []string{"Authorization", "Bearer " + jwtAlice}, jwtID("https://idp.example.com/", "alice-42"), []string{jwtAlice, "alice-42", "alice@example.com"}},
		{"JWT, another token, same subject, escaped iss", "/v1/me", []string{"Authorization", "Bearer " + jwtAlice2}, jwtID("https://idp.example.com/", "alice-42"), []string{jwtAlice2}},
		{"JWT scheme case and spaces", "/", []string{"authorization", "  bEaReR    " + jwtAlice + "  "}, jwtID("https://idp.example.com/", "alice-42"), []string{jwtAlice}},
		{"JWT client credentials", "/", []string{"Authorization", "Bearer " + jwtClient}, jwtID("https://idp.example.com/", "billing-svc"), []string{jwtClient}},
		{"JWT without iss", "/", []string{"Authorization", "Bearer " + jwtNoIss}, Actor{ID: r.Hash(DomainJWT, []byte("|bob")), Kind: KindJWT}, []string{jwtNoIss}},
		{"JWT numeric sub", "/", []string{"Authorization", "Bearer " + jwtNumSub}, jwtID("x", "12345"), []string{jwtNumSub}},
		{"JWT nested sub ignored", "/", []string{"Authorization", "Bearer " + jwtNested}, jwtID("i", "carol"), []string{jwtNested}},
		{"JWT without identity claims: whole token", "/", []string{"Authorization", "Bearer " + jwtNoClaims},
			Actor{ID: r.Hash(DomainJWTToken, []byte(jwtNoClaims)), Kind: KindJWT, Issuer: "https://idp.example.com/"}, []string{jwtNoClaims}},
		{"JWE is opaque", "/", []string{"Authorization", "Bearer " + jwe}, want(KindBearer, DomainBearer, jwe), nil},
		{"malformed JWT is opaque", "/", []string{"Authorization", "Bearer eyJhbGciOi.!!!.x"}, want(KindBearer, DomainBearer, "eyJhbGciOi.!!!.x"), []string{"eyJhbGciOi.!!!.x"}},
		{"JWT with a blank payload is opaque", "/", []string{"Authorization", "Bearer eyJhbGciOs0.IA."}, want(KindBearer, DomainBearer, "eyJhbGciOs0.IA."), nil},
		{"JWT header without alg is opaque", "/", []string{"Authorization", "Bearer " + b64u(`{"typ":"JWT"}`) + "." + b64u(`{"sub":"x"}`) + ".s"},
			want(KindBearer, DomainBearer, b64u(`{"typ":"JWT"}`)+"."+b64u(`{"sub":"x"}`)+".s"), nil},
		{"opaque bearer", "/", []string{"Authorization", "Bearer " + opaque}, want(KindBearer, DomainBearer, opaque), []string{opaque}},
		{"Token scheme", "/", []string{"Authorization", "Token " + opaque}, want(KindBearer, DomainBearer, opaque), []string{opaque}},
		{"bare credential", "/", []string{"Authorization", opaque}, want(KindBearer, DomainBearer, opaque), []string{opaque}},
		{"bare JWT", "/", []string{"Authorization", jwtAlice}, jwtID("https://idp.example.com/", "alice-42"), []string{jwtAlice}},
		{"AWS SigV4: access key id", "/", []string{"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"},
			want(KindAPIKey, DomainAPIKey, "AKIDEXAMPLE"), []string{"AKIDEXAMPLE", "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"}},
		{"bearer beats API key", "/", []string{"X-API-Key", apiKey, "Authorization", "Bearer " + opaque}, want(KindBearer, DomainBearer, opaque), []string{apiKey, opaque}},
		{"API key header", "/v1/charges", []string{"x-api-key", " " + apiKey + " "}, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey}},
		{"API key header precedence by config order", "/", []string{"X-Access-Token", "second-key-xyz", "X-API-Key", apiKey}, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey, "second-key-xyz"}},
		{"API key header holding a JWT", "/", []string{"X-Auth-Token", jwtAlice}, jwtID("https://idp.example.com/", "alice-42"), []string{jwtAlice}},
		{"API key query", "/v1/charges?limit=10&api_key=" + apiKey, nil, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey}},
		{"API key query percent-decoded = header", "/v1/x?ApiKey=ab%2Fcd%2Bef123", nil, want(KindAPIKey, DomainAPIKey, "ab/cd+ef123"), []string{"ab%2Fcd%2Bef123", "ab/cd+ef123"}},
		{"API key query precedence", "/x?token=tok-second-123&api_key=" + apiKey + "#frag", nil, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey, "tok-second-123"}},
		{"API key query absolute target", "http://api.example.com/x?key=" + apiKey, nil, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey}},
		{"header key beats query key", "/x?api_key=query-key-123", []string{"Api-Key", apiKey}, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey, "query-key-123"}},
		{"API key beats Basic", "/x", []string{"Authorization", basic("alice", "hunter2hunter2"), "X-API-Key", apiKey}, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey, "hunter2hunter2"}},
		{"Basic: user name only, normalised", "/x", []string{"Authorization", basic(" Alice@Example.com", "hunter2hunter2")}, want(KindBasic, DomainUser, "alice@example.com"), []string{"hunter2hunter2", "alice@example.com"}},
		{"Basic unpadded", "/x", []string{"Authorization", "basic YWxpY2U6cHc"}, want(KindBasic, DomainUser, "alice"), []string{"YWxpY2U6cHc"}},
		{"Basic password with colons", "/x", []string{"Authorization", basic("bob", "p:a:s:s:word")}, want(KindBasic, DomainUser, "bob"), []string{"p:a:s:s:word"}},
		{"Basic invalid base64: raw hash", "/x", []string{"Authorization", "Basic !!notbase64!!"}, want(KindBasic, DomainBasicRaw, "!!notbase64!!"), []string{"!!notbase64!!"}},
		{"Basic without colon: raw hash", "/x", []string{"Authorization", "Basic c2tfdGVzdF9rZXlvbmx5"}, want(KindBasic, DomainBasicRaw, "c2tfdGVzdF9rZXlvbmx5"), []string{"sk_test_keyonly"}},
		{"Basic empty user: raw hash", "/x", []string{"Authorization", basic("", "onlyapassword")}, want(KindBasic, DomainBasicRaw, basic("", "onlyapassword")[6:]), []string{"onlyapassword"}},
		{"Digest username", "/x", []string{"Authorization", `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", response="8ca523f5e9506fed4657c9700eebdbec"`},
			want(KindBasic, DomainUser, "mufasa"), []string{"Mufasa", "8ca523f5e9506fed4657c9700eebdbec"}},
		{"Basic beats cookie", "/x", []string{"Cookie", "sid=" + sess, "Authorization", basic("alice", "pw123456789")}, want(KindBasic, DomainUser, "alice"), []string{sess, "pw123456789"}},
		{"session cookie", "/x", []string{"Cookie", "theme=dark; _ga=GA1.2.3; connect.sid=" + sess + "; lang=en"}, want(KindSessionCookie, DomainSession, sess), []string{sess}},
		{"session cookie precedence by config order", "/x", []string{"Cookie", "PHPSESSID=php-value-123;session=flask-value-123"}, want(KindSessionCookie, DomainSession, "flask-value-123"), []string{"php-value-123", "flask-value-123"}},
		{"session cookie over several Cookie headers", "/x", []string{"Cookie", "a=1", "Cookie", " JSESSIONID = \"F00DCAFE12345678\" "}, want(KindSessionCookie, DomainSession, "F00DCAFE12345678"), []string{"F00DCAFE12345678"}},
		{"session cookie case-sensitive", "/x", []string{"Cookie", "JSessionID=abcdefgh12345"}, want(KindClientIP, DomainIP, ""), []string{"abcdefgh12345"}},
		{"rails cookie by suffix pattern", "/x", []string{"Cookie", "_shop_session=rails-cookie-value-1"}, want(KindSessionCookie, DomainSession, "rails-cookie-value-1"), []string{"rails-cookie-value-1"}},
		{"__Host- prefix ignored", "/x", []string{"Cookie", "__Host-session=host-cookie-value-1"}, want(KindSessionCookie, DomainSession, "host-cookie-value-1"), []string{"host-cookie-value-1"}},
		{"empty session cookie skipped", "/x", []string{"Cookie", "sid=; other=1"}, want(KindClientIP, DomainIP, ""), nil},
		{"client IP fallback", "/x", []string{"Cookie", "theme=dark"}, want(KindClientIP, DomainIP, ""), nil},
		{"empty Authorization falls through", "/x", []string{"Authorization", "  ", "X-API-Key", apiKey}, want(KindAPIKey, DomainAPIKey, apiKey), []string{apiKey}},
		{"Bearer without token is none", "/x", []string{"Authorization", "Bearer"}, want(KindClientIP, DomainIP, ""), nil},
		{"Bearer undefined is none", "/x", []string{"Authorization", "Bearer undefined", "Cookie", "sid=sid-value-123"}, want(KindSessionCookie, DomainSession, "sid-value-123"), []string{"sid-value-123"}},
		{"Bearer null is none", "/x", []string{"Authorization", "bearer NULL"}, want(KindClientIP, DomainIP, ""), nil},
	}
	b16 := ip.As16()
	ipID := r.Hash(DomainIP, b16[:])
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want.Kind == KindClientIP {
				c.want.ID = ipID
			}
			got := r.Actor(req("GET", c.target, "", c.hdrs...), ip)
			// Which header decided is checked on its own below.
			fromAuth := got.FromAuthorization
			got.FromAuthorization = false
			if got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
			hasAuth := slices.ContainsFunc(c.hdrs, func(h string) bool { return strings.EqualFold(h, "Authorization") })
			switch got.Kind {
			case KindClientIP, KindSessionCookie, KindBasic:
				hasAuth = false // decided after the Authorization header, if any
			}
			if fromAuth && !hasAuth {
				t.Errorf("FromAuthorization set for a %v actor the Authorization header did not decide", got.Kind)
			}
			if !isHash(got.ID) {
				t.Errorf("ID %q is no hash", got.ID)
			}
			noSecrets(t, []string{got.ID, got.Issuer}, c.secrets...)
		})
	}
}

func TestActorNone(t *testing.T) {
	r := newTest(Config{})
	if a := r.Actor(req("GET", "/", ""), netip.Addr{}); a != (Actor{}) {
		t.Errorf("got %+v", a)
	}
	if a := r.Actor(nil, netip.Addr{}); a != (Actor{}) {
		t.Errorf("got %+v", a)
	}
}

func TestActorBasicMatchesLogin(t *testing.T) {
	r := newTest(Config{})
	a := r.Actor(req("GET", "/x", "", "Authorization", basic("Alice", "pw")), netip.Addr{})
	l := r.Login(req("POST", "/login", "username=alice&password=x", "Content-Type", "application/x-www-form-urlencoded"), nil, "")
	if a.ID != l.UsernameHash {
		t.Errorf("Basic actor %s != login user hash %s", a.ID, l.UsernameHash)
	}
}

func TestActorCustomConfig(t *testing.T) {
	r := newTest(Config{APIKeyHeaders: []string{"X-Tenant-Key"}, APIKeyQueryParams: []string{}, SessionCookies: []string{"myapp_*"}})
	if a := r.Actor(req("GET", "/", "", "X-API-Key", "ignored-key-123", "X-Tenant-Key", "tenant-key-123"), netip.Addr{}); a.Kind != KindAPIKey || a.ID != r.Hash(DomainAPIKey, []byte("tenant-key-123")) {
		t.Errorf("header: %+v", a)
	}
	if a := r.Actor(req("GET", "/?api_key=abc", ""), netip.Addr{}); a.Kind != KindNone {
		t.Errorf("query disabled: %+v", a)
	}
	if a := r.Actor(req("GET", "/", "", "Cookie", "session=x; myapp_sess=v1"), netip.Addr{}); a.Kind != KindSessionCookie || a.ID != r.Hash(DomainSession, []byte("v1")) {
		t.Errorf("cookie prefix: %+v", a)
	}
}

func TestActorIssuerCapped(t *testing.T) {
	r := newTest(Config{})
	long := strings.Repeat("é", 300)
	a := r.Actor(req("GET", "/", "", "Authorization", "Bearer "+mkJWT(`{"iss":"`+long+`","sub":"x"}`)), netip.Addr{})
	if len(a.Issuer) > maxIssuer || !utf8.ValidString(a.Issuer) || a.Kind != KindJWT {
		t.Errorf("issuer %d bytes, valid %v", len(a.Issuer), utf8.ValidString(a.Issuer))
	}
	if a.ID != r.Hash(DomainJWT, []byte(long+"|x")) {
		t.Error("the hash covers the whole issuer")
	}
}
