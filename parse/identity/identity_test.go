package identity

import (
	"net/netip"
	"sync"
	"testing"
)

func TestHash(t *testing.T) {
	r := newTest(Config{})
	a := r.Hash("apikey", []byte("k-123"))
	if !isHash(a) {
		t.Fatalf("hash %q: want %d hex chars", a, HashLen)
	}
	if b := r.Hash("apikey", []byte("k-123")); a != b {
		t.Errorf("not deterministic: %s vs %s", a, b)
	}
	if b := newTest(Config{}).Hash("apikey", []byte("k-123")); a != b {
		t.Errorf("two resolvers with one secret differ: %s vs %s", a, b)
	}
	if b := r.Hash("user", []byte("k-123")); a == b {
		t.Error("domains do not separate")
	}
	// "ab"+"c" vs "a"+"bc": the 0 separator keeps domain and value apart.
	if r.Hash("ab", []byte("c")) == r.Hash("a", []byte("bc")) {
		t.Error("domain/value boundary ambiguous")
	}
	if b := New(Config{Secret: []byte("other")}).Hash("apikey", []byte("k-123")); a == b {
		t.Error("secret does not key the hash")
	}
	if r.Ephemeral() {
		t.Error("Ephemeral with a secret")
	}
	e1, e2 := New(Config{}), New(Config{})
	if !e1.Ephemeral() || !e2.Ephemeral() {
		t.Error("no secret: want Ephemeral")
	}
	if e1.Hash("x", []byte("v")) == e2.Hash("x", []byte("v")) {
		t.Error("ephemeral keys are not random")
	}
	// Long domain and value go through the chunked writer.
	long := make([]byte, 1000)
	if r.Hash(string(long), long) == r.Hash(string(long[:999]), long) {
		t.Error("long domain")
	}
}

func TestKindString(t *testing.T) {
	if KindJWT.String() != "jwt" || KindClientIP.String() != "client_ip" || Kind(99).String() != "unknown" {
		t.Error(KindJWT, KindClientIP, Kind(99))
	}
	if OutcomeFailure.String() != "failure" {
		t.Error(OutcomeFailure)
	}
}

func TestConcurrent(t *testing.T) {
	r := newTest(Config{})
	want := r.Actor(req("GET", "/", "", "Authorization", "Bearer "+mkJWT(`{"iss":"a\/b","sub":"s"}`)), netip.Addr{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got := r.Actor(req("GET", "/", "", "Authorization", "Bearer "+mkJWT(`{"iss":"a\/b","sub":"s"}`)), netip.Addr{})
				if got != want {
					t.Errorf("got %+v want %+v", got, want)
					return
				}
				r.Login(req("POST", "/login", "user=a&password=b", "Content-Type", ctForm), resp(401, ""), "")
			}
		}()
	}
	wg.Wait()
}
