package endpoint

import (
	"fmt"
	"testing"
)

// Run: go test -run '^$' -bench . -benchmem ./parse/endpoint/
// Compare: benchstat old.txt new.txt
var benchPaths = []string{
	"/v1/users/42/orders/7/items",
	"/v1/customers/cus_NffrFeUfNV2Hib",
	"/api/v2/accounts/123e4567-e89b-12d3-a456-426614174000/transactions",
	"/static/js/app.3f9a1c.js",
	"/health",
	"/v1/users/me",
	"/invoices/12345.pdf",
	"/products/my-awesome-product-name/reviews",
	"/v1/search",
	"/graphql",
}

func benchTemplate(b *testing.B, spec *Spec) {
	tp := New(Config{}, spec)
	params := make([]Param, 0, 8)
	for _, p := range benchPaths {
		tp.Template("GET", "api.example.com", p, params[:0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, params, _ = tp.Template("GET", "api.example.com", benchPaths[i%len(benchPaths)], params[:0])
	}
}

func BenchmarkTemplate(b *testing.B) { benchTemplate(b, nil) }

func BenchmarkTemplateSpec(b *testing.B) {
	spec, err := LoadSpecs("testdata/shop.yaml", "testdata/catalog.json")
	if err != nil {
		b.Fatal(err)
	}
	benchTemplate(b, spec)
}

// BenchmarkTemplateLearning: high-cardinality user names past the threshold.
func BenchmarkTemplateLearning(b *testing.B) {
	tp := New(Config{}, nil)
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = fmt.Sprintf("/v1/users/user%c%c%c/repos", 'a'+i%26, 'a'+i/26%26, 'a'+i/676)
	}
	params := make([]Param, 0, 8)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, params, _ = tp.Template("GET", "api.example.com", paths[i%len(paths)], params[:0])
	}
}

func BenchmarkClassifySegment(b *testing.B) {
	segs := []string{"users", "42", "cus_NffrFeUfNV2Hib", "123e4567-e89b-12d3-a456-426614174000", "my-awesome-product-name"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ClassifySegment(segs[i%len(segs)])
	}
}
