package normalize

import (
	"net/netip"
	"testing"

	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/identity"
)

// TestConnMemo checks that what a Normalizer remembers per connection never
// outlives the input it came from: a header that changes mid-connection, or
// a ConnState reused for another connection, gives the new values.
func TestConnMemo(t *testing.T) {
	n := New(Config{Identity: identity.New(identity.Config{Secret: []byte("k")})})
	state := &parse.ConnState{ID: 1}
	ev := func(flowSrc string, headers ...string) (host, ua, ct, respCT, actor, src string) {
		t.Helper()
		f := testFlow
		f.SrcIP = netip.MustParseAddr(flowSrc)
		tx := &parse.Transaction{Flow: f, Conn: state,
			Request:  msg(true, "GET /v1/items", headers...),
			Response: msg(false, "", "Content-Type: "+headers[len(headers)-1])}
		e := n.Event(tx)
		return e.Request.Host, e.Request.UserAgent, e.Request.ContentType, e.Response.ContentType, e.Actor.Id, e.Flow.SrcIp
	}
	h1, ua1, ct1, rct1, a1, s1 := ev("192.0.2.7", "Host: a.example", "User-Agent: one", "Authorization: Bearer t1", "Content-Type: text/plain", "text/html")
	h2, ua2, ct2, rct2, a2, s2 := ev("192.0.2.7", "Host: a.example", "User-Agent: one", "Authorization: Bearer t1", "Content-Type: text/plain", "text/html")
	if h1 != h2 || ua1 != ua2 || ct1 != ct2 || rct1 != rct2 || a1 != a2 || s1 != s2 {
		t.Fatalf("same input, different values: %q %q", []string{h1, ua1, ct1, rct1, a1, s1}, []string{h2, ua2, ct2, rct2, a2, s2})
	}
	// Every input changes on the same connection.
	h3, ua3, ct3, rct3, a3, _ := ev("192.0.2.7", "Host: B.example", "User-Agent: two", "Authorization: Bearer t2", "Content-Type: application/json", "application/xml")
	if h3 != "b.example" || ua3 != "two" || ct3 != "application/json" || rct3 != "application/xml" || a3 == a1 {
		t.Errorf("changed headers gave host %q ua %q ct %q response ct %q actor changed %v", h3, ua3, ct3, rct3, a3 != a1)
	}
	// Back to the first token: its actor again, not the second's.
	if _, _, _, _, a4, _ := ev("192.0.2.7", "Host: a.example", "User-Agent: one", "Authorization: Bearer t1", "Content-Type: text/plain", "text/html"); a4 != a1 {
		t.Errorf("the first token's actor changed: %s, was %s", a4, a1)
	}
	// Without Authorization the actor is resolved (the client address), not
	// the memoised token's.
	if _, _, _, _, a5, _ := ev("192.0.2.7", "Host: a.example", "Content-Type: text/plain", "text/html"); a5 == a1 {
		t.Error("a request without credentials got the previous token's actor")
	}
	// The actor of a caller without credentials is its address's, kept per
	// connection while the address stays: behind a trusted proxy each
	// forwarded client is its own actor, and credentials win over it.
	id := identity.New(identity.Config{Secret: []byte("k"), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}})
	n = New(Config{Identity: id})
	addrActor := func(a string) string { return id.Actor(nil, netip.MustParseAddr(a)).ID }
	for i, c := range []struct {
		headers []string
		want    string
	}{
		{[]string{"Host: a.example"}, addrActor("192.0.2.7")},
		{[]string{"Host: a.example"}, addrActor("192.0.2.7")},
		{[]string{"Host: a.example", "X-Forwarded-For: 203.0.113.5"}, addrActor("203.0.113.5")},
		{[]string{"Host: a.example", "X-Forwarded-For: 203.0.113.6"}, addrActor("203.0.113.6")},
		{[]string{"Host: a.example", "X-Forwarded-For: 203.0.113.6", "Cookie: session=s1"}, id.Hash(identity.DomainSession, []byte("s1"))},
		{[]string{"Host: a.example", "X-Forwarded-For: 203.0.113.6"}, addrActor("203.0.113.6")},
	} {
		tx := &parse.Transaction{Flow: testFlow, Conn: state, Request: msg(true, "GET /v1/items", c.headers...)}
		if got := n.Event(tx).Actor.Id; got != c.want || c.want == "" {
			t.Errorf("request %d %q: actor %q, want %q", i, c.headers, got, c.want)
		}
	}
	n = New(Config{Identity: identity.New(identity.Config{Secret: []byte("k")})})
	// The Tracker reuses the state for another connection from elsewhere.
	state.ID = 2
	if _, _, _, _, _, s6 := ev("192.0.2.99", "Host: a.example", "Content-Type: text/plain", "text/html"); s6 != "192.0.2.99" {
		t.Errorf("reused state: source %s, want 192.0.2.99", s6)
	}
	// A transaction without a connection (tests, tools) works the same.
	tx := &parse.Transaction{Flow: testFlow, Request: msg(true, "GET /x", "Host: c.example")}
	if e := n.Event(tx); e.Request.Host != "c.example" || e.Flow.SrcIp != "192.0.2.7" {
		t.Errorf("no connection: host %q source %q", e.Request.Host, e.Flow.SrcIp)
	}
}
