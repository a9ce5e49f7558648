package normalize

import (
	"encoding/base64"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/identity"
	"google.golang.org/protobuf/proto"
)

// msg builds a message from "Name: value" header lines.
func msg(request bool, first string, headers ...string) *http1.Message {
	m := &http1.Message{IsRequest: request, Start: 1e9, End: 2e9}
	if request {
		method, target, _ := strings.Cut(first, " ")
		m.Method, m.Target = []byte(method), []byte(target)
	} else {
		m.Status = 200
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		m.Headers = append(m.Headers, http1.Header{Name: []byte(k), Value: []byte(v)})
	}
	return m
}

var testFlow = capture.Flow{SrcIP: netip.MustParseAddr("192.0.2.7"), DstIP: netip.MustParseAddr("198.51.100.1"), SrcPort: 50000, DstPort: 80}

func TestRequestFields(t *testing.T) {
	n := New(Config{SensorID: "s1"})
	f := func(target string, wantPath, wantEndpoint string, wantQuery ...string) {
		t.Helper()
		tx := &parse.Transaction{Flow: testFlow,
			Request:  msg(true, "GET "+target, "Host: API.Example.com", "Content-Type: application/json; charset=utf-8"),
			Response: msg(false, "", "Content-Type: text/html")}
		// Twice on one Normalizer: the reused event is reset.
		for range 2 {
			e := n.Event(tx)
			r := e.Request
			if r.Path != wantPath || r.Endpoint != wantEndpoint || !slices.Equal(r.QueryParams, wantQuery) {
				t.Errorf("%s: path %q endpoint %q query %q; want %q %q %q", target, r.Path, r.Endpoint, r.QueryParams, wantPath, wantEndpoint, wantQuery)
			}
			if r.Host != "api.example.com" || r.ContentType != "application/json" || e.Response.ContentType != "text/html" ||
				e.SchemaMajor != event.SchemaMajor || e.SensorId != "s1" || e.LatencyNs != 1e9 || e.ClientIp != "192.0.2.7" {
				t.Errorf("%s: event %v", target, e)
			}
		}
	}
	f("/v1/users/42?fields=name&token=s3cr3t&fields=x", "/v1/users/42?fields=*&token=*&fields=*", "GET api.example.com /v1/users/{id}", "fields", "token")
	f("/users/alice@example.com/profile", "/users/*/profile", "GET api.example.com /users/{email}/profile")
	f("/users/alice%40example.com/profile", "/users/*/profile", "GET api.example.com /users/{email}/profile")
	f("http://api.example.com/v1/orders/7", "/v1/orders/7", "GET api.example.com /v1/orders/{id}")
	f("http://api.example.com", "/", "GET api.example.com /")
	// "://" inside an origin-form path is part of the path, not a scheme.
	f("/v1/proxy/http://evil.example/x", "/v1/proxy/http://evil.example/x", "GET api.example.com /v1/proxy/http:/evil.example/x")
	// A default port in Host names the same endpoint; another port does not.
	for host, want := range map[string]string{"API.example.com:80": "api.example.com", "api.example.com:443": "api.example.com",
		"api.example.com:8080": "api.example.com:8080", "[2001:db8::1]:80": "[2001:db8::1]"} {
		tx := &parse.Transaction{Flow: testFlow, Request: msg(true, "GET /", "Host: "+host)}
		if got := n.Event(tx).Request.Host; got != want {
			t.Errorf("Host %q: %q, want %q", host, got, want)
		}
	}
	f("/reset/Zk9vQmFyQmF6MTIzNDU2Nzg5MA", "/reset/*", "GET api.example.com /reset/{id}")
}

func TestActorObjectsLogin(t *testing.T) {
	n := New(Config{Identity: identity.New(identity.Config{Secret: []byte("k")})})
	// A JWT (header {"alg":"none"}, payload {"iss":"idp","sub":"u1"}).
	jwt := "eyJhbGciOiJub25lIn0.eyJpc3MiOiJpZHAiLCJzdWIiOiJ1MSJ9.c2ln"
	tx := &parse.Transaction{Flow: testFlow,
		Request:  msg(true, "GET /v1/orders/1007/items?customer_id=55&sort=asc", "Host: api.example.com", "Authorization: Bearer "+jwt),
		Response: msg(false, "")}
	e := n.Event(tx)
	if e.Actor.Kind != event.ActorKind_ACTOR_KIND_JWT || e.Actor.Issuer != "idp" || len(e.Actor.Id) != 32 || strings.Contains(e.Actor.Id, jwt) {
		t.Errorf("actor %v", e.Actor)
	}
	var nums []uint64
	for _, o := range e.ObjectIds {
		nums = append(nums, o.GetNumber())
	}
	if !slices.Equal(nums, []uint64{1007, 55}) {
		t.Errorf("object ids %v, want 1007 and 55", e.ObjectIds)
	}
	if e.Login != nil {
		t.Errorf("login on a plain GET: %v", e.Login)
	}

	login := msg(true, "POST /auth/login", "Host: api.example.com", "Content-Type: application/json")
	login.Body = []byte(`{"username":"Alice@Example.com","password":"hunter22"}`)
	resp := msg(false, "")
	resp.Status = 401
	e = n.Event(&parse.Transaction{Flow: testFlow, Request: login, Response: resp})
	if e.Login == nil || e.Login.Outcome != event.LoginOutcome_LOGIN_OUTCOME_FAILURE || e.Login.Method != "json" || len(e.Login.UsernameHash) != 32 {
		t.Errorf("login %v", e.Login)
	}
	if e.Actor.Kind != event.ActorKind_ACTOR_KIND_CLIENT_IP {
		t.Errorf("anonymous login actor %v", e.Actor)
	}
}

func TestQuality(t *testing.T) {
	n := New(Config{})
	req := msg(true, "GET /x")
	req.Flags = http1.FlagGap | http1.FlagSmuggling
	e := n.Event(&parse.Transaction{Flow: testFlow, Request: req, Flags: parse.TxUnanswered})
	want := []event.Quality{event.Quality_QUALITY_GAP, event.Quality_QUALITY_SMUGGLING, event.Quality_QUALITY_UNANSWERED}
	if !slices.Equal(e.Quality, want) || e.Response != nil || e.LatencyNs != 0 {
		t.Errorf("quality %v response %v latency %d", e.Quality, e.Response, e.LatencyNs)
	}
}

// TestActorCacheKeepsOnlyAuthorizationActors: with a placeholder bearer
// ("Bearer null", no credential), the actor comes from another header, so
// the same Authorization value must not stand for one cached actor.
func TestActorCacheKeepsOnlyAuthorizationActors(t *testing.T) {
	n := New(Config{Identity: identity.New(identity.Config{Secret: []byte("k")})})
	jwt := func(sub string) string {
		return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"idp","sub":"`+sub+`"}`)) + ".c2ln"
	}
	var ids []string
	for _, sub := range []string{"alice", "bob"} {
		req := msg(true, "GET /v1/me", "Host: api.example.com", "Authorization: Bearer null", "X-API-Key: "+jwt(sub))
		e := n.Event(&parse.Transaction{Flow: testFlow, Request: req})
		ids = append(ids, e.Actor.Id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two callers with different API keys got one actor %s", ids[0])
	}
}

// TestKeep: a kept event stays as it was while the Normalizer builds the
// next ones, and parts given back make the same events again.
func TestKeep(t *testing.T) {
	txs := demoTransactions(t)
	id := identity.New(identity.Config{Secret: []byte("keep")})
	marshal := func(e *event.APIEvent) string {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for round := range 2 {
		n := New(Config{Identity: id})
		var want []string
		var kept []Kept
		for i := range txs {
			want = append(want, marshal(n.Event(&txs[i])))
			if i%3 != 0 { // and the others reuse the Normalizer's parts
				kept = append(kept, n.Keep())
			}
		}
		j := 0
		for i := range txs {
			if i%3 == 0 {
				continue
			}
			if got := marshal(kept[j].Event()); got != want[i] {
				t.Fatalf("round %d: kept event %d of %d changed", round, i, len(txs))
			}
			kept[j].Release()
			j++
		}
		if j < 600 {
			t.Fatalf("%d events kept", j)
		}
	}
}

// TestEventRecovers: with OnPanic set, a panic while building an event costs
// that event only; without it the panic goes on.
func TestEventRecovers(t *testing.T) {
	tx := &parse.Transaction{Flow: testFlow, Request: msg(true, "GET /a", "Host: h")}
	var got any
	var stack []byte
	n := New(Config{OnPanic: func(v any, s []byte) { got, stack = v, s }})
	n.p = nil // what a bug would do: the event's parts are not there
	if e := n.Event(tx); e != nil || got == nil || !strings.Contains(string(stack), "normalize.(*Normalizer).event") {
		t.Fatalf("event %v, recovered %v, stack:\n%s", e, got, stack)
	}
	n.p = new(eventParts)
	if e := n.Event(tx); e == nil || e.Request.GetPath() != "/a" {
		t.Fatalf("after the panic: %v", e)
	}

	defer func() {
		if recover() == nil {
			t.Error("without OnPanic, the panic was swallowed")
		}
	}()
	n = New(Config{})
	n.p = nil
	n.Event(tx)
}
