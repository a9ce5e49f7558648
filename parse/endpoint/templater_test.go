package endpoint

import (
	"fmt"
	"strings"
	"testing"
)

func fmtParams(ps []Param) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s:%s@%d", p.Name, p.Value, p.Type, p.Position)
	}
	return b.String()
}

func TestTemplateInference(t *testing.T) {
	tp := New(Config{}, nil)
	var params []Param
	f := func(method, host, path, want, wantParams string) {
		t.Helper()
		for range 2 {
			var got string
			var shadow bool
			got, params, shadow = tp.Template(method, host, path, params[:0])
			if got != want || shadow {
				t.Fatalf("Template(%s %s %q) = %q shadow=%v; want %q", method, host, path, got, shadow, want)
			}
			if gp := fmtParams(params); gp != wantParams {
				t.Fatalf("Template(%s %s %q) params = %q; want %q", method, host, path, gp, wantParams)
			}
		}
	}
	h := "api.example.com"
	f("GET", h, "", "/", "")
	f("GET", h, "/", "/", "")
	f("GET", h, "//", "/", "")
	f("GET", h, "/users", "/users", "")
	f("GET", h, "/users/", "/users", "")
	f("GET", h, "//users//", "/users", "")
	f("GET", h, "/users/42", "/users/{id}", "id=42:int@1")
	f("GET", h, "/v1/users/42/orders/7/items", "/v1/users/{id}/orders/{id}/items", "id=42:int@2 id=7:int@4")
	f("GET", h, "/v1/users/42?x=1#frag", "/v1/users/{id}", "id=42:int@2")
	f("GET", h, "http://api.example.com/v1/users/42", "/v1/users/{id}", "id=42:int@2")
	f("GET", h, "/v2beta/en-US/getUserProfile", "/v2beta/en-US/getUserProfile", "")
	f("GET", h, "/api/2.0/status", "/api/2.0/status", "")
	f("GET", h, "/api/2024/reports", "/api/{id}/reports", "id=2024:int@1")
	f("GET", h, "/invoices/12345.pdf", "/invoices/{id}.pdf", "id=12345:int@1")
	f("GET", h, "/docs/guide.pdf", "/docs/guide.pdf", "")
	f("GET", h, "/static/js/app.3f9a1c.js", "/static/js/{file}.js", "")
	f("GET", h, "/assets/img/Logo.PNG", "/assets/img/{file}.png", "")
	f("GET", h, "/favicon.ico", "/{file}.ico", "")
	f("GET", h, "/orders/123e4567-e89b-12d3-a456-426614174000", "/orders/{id}", "id=123e4567-e89b-12d3-a456-426614174000:uuid@1")
	f("GET", h, "/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "/blobs/{id}",
		"id=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:hash@1")
	f("GET", h, "/events/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/events/{id}", "id=01ARZ3NDEKTSV4RRFFQ69G5FAV:ulid@1")
	f("GET", h, "/v1/customers/cus_NffrFeUfNV2Hib", "/v1/customers/{id}", "id=cus_NffrFeUfNV2Hib:token@2")
	f("GET", h, "/users/alice%40example.com/profile", "/users/{email}/profile", "email=alice@example.com:email@1")
	f("GET", h, "/reports/2024-01-31", "/reports/{date}", "date=2024-01-31:date@1")
	f("GET", h, "/products/my-awesome-product-name", "/products/my-awesome-product-name", "")
	f("GET", h, "/users/me", "/users/me", "")
	// percent-encoding: canonical, readable, never a fake placeholder
	f("GET", h, "/a%7Eb", "/a~b", "")
	f("GET", h, "/a~b", "/a~b", "")
	f("GET", h, "/files/my%20report", "/files/my%20report", "")
	f("GET", h, "/files/a%2Fb", "/files/a%2Fb", "")
	f("GET", h, "/x/{id}", "/x/%7Bid%7D", "")
	f("GET", h, "/x/%zz", "/x/%25zz", "")
	f("GET", h, "/caf\xc3\xa9", "/caf%C3%A9", "")
	f("OPTIONS", h, "*", "/*", "")
	// long paths
	long := strings.Repeat("/a", 40)
	f("GET", h, long, strings.Repeat("/a", 32)+"/{rest}", "")
	f("GET", h, "/files/"+strings.Repeat("x", 300)+"/tail", "/files/{rest}", "")
}

func TestTemplateLearning(t *testing.T) {
	tp := New(Config{LearnThreshold: 5}, nil)
	var params []Param
	f := func(path, want string) {
		t.Helper()
		for range 2 {
			var got string
			got, params, _ = tp.Template("GET", "h", path, params[:0])
			if got != want {
				t.Fatalf("Template(%q) = %q; want %q", path, got, want)
			}
		}
	}
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	for _, n := range names[:5] {
		f("/users/"+n, "/users/"+n) // up to the threshold: literal
		f("/users/"+n+"/repos", "/users/"+n+"/repos")
	}
	f("/users/frank", "/users/{name}") // the 6th distinct value flips the position
	f("/users/alice", "/users/{name}")
	f("/users/grace/repos", "/users/{name}/repos")
	if got := fmtParams(params); got != "name=grace:learned@1" {
		t.Fatalf("params = %q", got)
	}
	f("/users/me", "/users/me")         // reserved words stay
	f("/users/v2", "/users/v2")         // versions stay
	f("/users/42", "/users/{id}")       // ids are ids
	f("/admins/alice", "/admins/alice") // another prefix learns on its own
	// the first segment is never learned
	for _, n := range names {
		f("/"+n, "/"+n)
	}
	// another host learns on its own
	tp.Template("GET", "other", "/users/zed", nil)
	if got, _, _ := tp.Template("GET", "other", "/users/zed", nil); got != "/users/zed" {
		t.Fatalf("other host: %q", got)
	}
	// learning is shared across methods
	if got, _, _ := tp.Template("DELETE", "h", "/users/zed", nil); got != "/users/{name}" {
		t.Fatalf("DELETE: %q", got)
	}
	if s := tp.Stats(); s.Learned != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTemplateLearningBounded(t *testing.T) {
	tp := New(Config{LearnThreshold: 3, MaxLearnedPositions: 2, MaxTrackedPositions: 8, MaxTemplates: 16}, nil)
	for p := range 100 {
		for v := range 5 {
			tp.Template("GET", "h", fmt.Sprintf("/p%d/x%d/tail", p, v), nil)
		}
	}
	s := tp.Stats()
	if s.Learned != 2 || s.LearnDropped == 0 || s.Tracked > 8 || s.TrackEvicted == 0 || s.Templates > 16 || s.InternResets == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTemplateDisabledLearning(t *testing.T) {
	tp := New(Config{LearnThreshold: -1}, nil)
	for v := range 200 {
		tp.Template("GET", "h", fmt.Sprintf("/users/user%c%c", 'a'+v%26, 'a'+v/26), nil)
	}
	if got, _, _ := tp.Template("GET", "h", "/users/zzz", nil); got != "/users/zzz" {
		t.Fatalf("got %q", got)
	}
}

func TestTemplateInterned(t *testing.T) {
	tp := New(Config{}, nil)
	a, _, _ := tp.Template("GET", "h", "/v1/users/42", nil)
	b, _, _ := tp.Template("GET", "h", "/v1/users/43", nil)
	if a != b || unsafeData(a) != unsafeData(b) {
		t.Fatal("template not interned")
	}
}

func TestTemplateZeroAllocs(t *testing.T) {
	tp := New(Config{}, nil)
	params := make([]Param, 0, 8)
	paths := []string{"/v1/users/42/orders/7/items", "/v1/customers/cus_NffrFeUfNV2Hib", "/static/js/app.3f9a1c.js", "/health"}
	for _, p := range paths {
		tp.Template("GET", "api.example.com", p, params[:0])
	}
	for _, p := range paths {
		n := testing.AllocsPerRun(100, func() { tp.Template("GET", "api.example.com", p, params[:0]) })
		if n != 0 {
			t.Errorf("%s: %v allocs per call", p, n)
		}
	}
}

// TestTemplateShapeCache: paths of one shape (numbers and UUIDs apart)
// give the cached template with their own values; other segments, and NUL
// bytes, are not taken for a marker.
func TestTemplateShapeCache(t *testing.T) {
	tp := New(Config{}, nil)
	f := func(path, want, wantParams string) {
		t.Helper()
		got, params, _ := tp.Template("GET", "h", path, nil)
		if gp := fmtParams(params); got != want || gp != wantParams {
			t.Errorf("Template(%q) = %q %q; want %q %q", path, got, gp, want, wantParams)
		}
	}
	for i := range 3 {
		n := fmt.Sprint(1000 + i)
		u := fmt.Sprintf("123e4567-e89b-12d3-a456-42661417400%d", i)
		f("/v1/users/"+n+"/orders/"+u, "/v1/users/{id}/orders/{id}", "id="+n+":int@2 id="+u+":uuid@4")
		f("/v1/users/"+n+".pdf", "/v1/users/{id}.pdf", "id="+n+":int@2")
		f("/v1/users/alice%40example.com", "/v1/users/{email}", "email=alice@example.com:email@2")
	}
	f("/v1/users/\x00i", "/v1/users/%00i", "")
	f("/v1/users/7", "/v1/users/{id}", "id=7:int@2")
	f("/v1/users/12345678901234567890", "/v1/users/{id}", "id=12345678901234567890:hex@2")

	// A path with no segment and no host has an empty shape key, like a
	// slot never filled: it must not be taken for that slot's template.
	for _, path := range []string{"/", "#", "?q=1"} {
		if got, _, _ := tp.Template("GET", "", path, nil); got != "/" {
			t.Errorf("Template(%q) without a host = %q, want /", path, got)
		}
	}
}
