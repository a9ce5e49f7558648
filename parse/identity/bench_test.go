package identity

import (
	"net/netip"
	"testing"
)

var benchHeaders = []string{
	"Host", "api.example.com",
	"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
	"Accept", "application/json",
	"Accept-Encoding", "gzip, deflate, br",
	"Accept-Language", "en-US,en;q=0.9",
	"X-Forwarded-For", "203.0.113.7, 10.0.0.3",
	"X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e",
}

func benchActor(b *testing.B, extra ...string) {
	r := newTest(Config{})
	m := req("GET", "/v1/users/42/orders?page=2", "", append(append([]string{}, benchHeaders...), extra...)...)
	ip := netip.MustParseAddr("203.0.113.7")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Actor(m, ip)
	}
}

func BenchmarkActorJWT(b *testing.B) {
	benchActor(b, "Authorization", "Bearer "+mkJWT(`{"iss":"https://login.example.com/tenant/v2.0","aud":"api://orders","sub":"9f1c2e7a-5b1d-4c8e-9a0f-3d2b1c4e5f60","exp":1735689600,"iat":1735686000,"scope":"orders.read orders.write","email":"alice@example.com","name":"Alice Example","roles":["reader","writer"]}`))
}

func BenchmarkActorOpaqueBearer(b *testing.B) {
	benchActor(b, "Authorization", "Bearer ya29.a0AfH6SMBx-opaque-access-token-value-0123456789")
}

func BenchmarkActorAPIKey(b *testing.B) {
	benchActor(b, "X-API-Key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")
}

func BenchmarkActorCookie(b *testing.B) {
	benchActor(b, "Cookie", "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; theme=dark; connect.sid=s%3AJ2sd9fHk3kLmNoPqRsTuVwXyZ.9xY7abcDEFghiJKLmnoPQRstuVWxyz012345; lang=en-US")
}

func BenchmarkActorClientIP(b *testing.B) {
	benchActor(b)
}

func BenchmarkClientIP(b *testing.B) {
	r := newTest(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	m := req("GET", "/", "", benchHeaders...)
	peer := netip.MustParseAddr("10.0.0.9")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.ClientIP(m, peer)
	}
}

func BenchmarkLoginNotLogin(b *testing.B) {
	r := newTest(Config{LoginPaths: []string{"/api/v2/tenants/{t}/authn"}})
	m := req("POST", "/v1/users/42/orders", `{"item":"book","qty":1}`, append(append([]string{}, benchHeaders...), "Content-Type", "application/json", "Authorization", "Bearer x")...)
	rs := resp(201, `{"id":7}`, "Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Login(m, rs, "/v1/tenants/3f2504e0-4f89-11d3-9a0c-0305e82c3301/users/42/orders/981/items")
	}
}

func BenchmarkLoginJSON(b *testing.B) {
	r := newTest(Config{})
	m := req("POST", "/api/v1/auth/login", `{"email":"frank@example.com","password":"pw-frank-9876","remember":true}`, append(append([]string{}, benchHeaders...), "Content-Type", "application/json")...)
	rs := resp(200, `{"token":"eyJhbGciOi.eyJzdWIi.sig","user":{"id":7,"name":"Frank"}}`, "Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Login(m, rs, "")
	}
}

func BenchmarkObjectIDs(b *testing.B) {
	r := newTest(Config{})
	params := []Param{{"userId", "42", true}, {"orderId", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", false}}
	dst := make([]ObjectID, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst = r.ObjectIDs(params, "page=2&limit=50&customer_id=981", dst[:0])
	}
}

func BenchmarkRedactQuery(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = RedactQuery("page=2&limit=50&api_key=sk_live_123&customer_id=981", dst[:0])
	}
}
