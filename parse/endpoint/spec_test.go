package endpoint

import (
	"strings"
	"testing"
)

func TestSpecTemplates(t *testing.T) {
	spec, err := LoadSpecs("testdata/shop.yaml", "testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	tp := New(Config{}, spec)
	var params []Param
	f := func(method, host, path, want, wantParams string, wantShadow bool) {
		t.Helper()
		for range 2 {
			var got string
			var shadow bool
			got, params, shadow = tp.Template(method, host, path, params[:0])
			if got != want || shadow != wantShadow {
				t.Fatalf("Template(%s %s %q) = %q shadow=%v; want %q shadow=%v", method, host, path, got, shadow, want, wantShadow)
			}
			if gp := fmtParams(params); gp != wantParams {
				t.Fatalf("Template(%s %s %q) params = %q; want %q", method, host, path, gp, wantParams)
			}
		}
	}
	h := "api.example.com"
	f("GET", h, "/v1/users/5", "/v1/users/{userId}", "userId=5:int@2", false)
	f("GET", "API.example.com:443", "/v1/users/5/", "/v1/users/{userId}", "userId=5:int@2", false)
	f("GET", h, "/v1/users/alice", "/v1/users/{userId}", "userId=alice:spec@2", false)
	f("GET", h, "/v1/users/me", "/v1/users/me", "", false) // literal beats parameter
	f("DELETE", h, "/v1/users/me", "/v1/users/{userId}", "userId=me:spec@2", false)
	f("HEAD", h, "/v1/users/me", "/v1/users/me", "", false)
	f("PUT", h, "/v1/users/me", "/v1/users/me", "", true) // path known, method not
	f("GET", h, "/v1/users/5/orders/9", "/v1/users/{userId}/orders/{orderId}", "userId=5:int@2 orderId=9:int@4", false)
	f("GET", h, "/v1/invoices/77.pdf", "/v1/invoices/{invoiceId}.pdf", "invoiceId=77:int@2", false)
	f("GET", h, "/v1/invoices/77", "/v1/invoices/{invoiceId}", "invoiceId=77:int@2", false)
	// host named by the server: another host does not match, inference takes over
	f("GET", "evil.example.net", "/v1/users/5", "/v1/users/{id}", "id=5:int@2", true)
	// a relative server matches any host
	f("GET", "10.0.0.1:8080", "/internal/v1/users/5", "/internal/v1/users/{userId}", "userId=5:int@3", false)
	// operation-level server
	f("GET", "status.example.com", "/health", "/health", "", false)
	f("GET", h, "/health", "/health", "", true)
	// shadow: no operation
	f("GET", h, "/v1/admin/users/5", "/v1/admin/users/{id}", "id=5:int@3", true)
	f("GET", h, "/users/5", "/users/{id}", "id=5:int@1", true)
	// the JSON spec has no servers: any host, base "/"
	f("GET", "shop.internal", "/catalog/products", "/catalog/products", "", false)
	f("POST", "x", "/catalog/products", "/catalog/products", "", false)
	f("GET", "x", "/catalog/products/SKU-123/reviews/123e4567-e89b-12d3-a456-426614174000",
		"/catalog/products/{sku}/reviews/{reviewId}", "sku=SKU-123:spec@2 reviewId=123e4567-e89b-12d3-a456-426614174000:uuid@4", false)

	if spec.Operations() != 17 {
		t.Errorf("operations = %d", spec.Operations())
	}
	if got, ps, ok := spec.Match("GET", h, "/v1/users/5"); !ok || got != "/v1/users/{userId}" || fmtParams(ps) != "userId=5:int@2" {
		t.Errorf("Match = %q %v %v", got, ps, ok)
	}
	if _, _, ok := spec.Match("PUT", h, "/v1/users/5"); ok {
		t.Error("Match PUT matched")
	}
}

func TestLoadSpecsErrors(t *testing.T) {
	f := func(file, want string) {
		t.Helper()
		_, err := LoadSpecs(file)
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), want) {
			t.Fatalf("LoadSpecs(%s) error = %v; want it to name the file and %q", file, err, want)
		}
	}
	f("testdata/missing.yaml", "no such file")
	f("testdata/bad.yaml", "unclosed '{'")
	f("testdata/swagger2.json", "OpenAPI 3")
}
