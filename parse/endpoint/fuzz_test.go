package endpoint

import (
	"strings"
	"testing"
)

func FuzzTemplate(f *testing.F) {
	for _, p := range benchPaths {
		f.Add("GET", "api.example.com", p)
	}
	for _, p := range []string{"", "/", "//", "*", "%", "/%zz/%2F/{x}", "http://h", "/a/../b", "/v1/users/alice%40example.com",
		strings.Repeat("/x", 100), "/" + strings.Repeat("A1b2", 200), "/u/2024-01-31T10:00:00Z", "/x/1.2.3", "/f/.js", "/f/a."} {
		f.Add("GET", "api.example.com", p)
	}
	spec, err := LoadSpecs("testdata/shop.yaml", "testdata/catalog.json")
	if err != nil {
		f.Fatal(err)
	}
	cfg := Config{LearnThreshold: 3, MaxTrackedPositions: 64, MaxLearnedPositions: 16, MaxTemplates: 64}
	plain, withSpec := New(cfg, nil), New(cfg, spec)
	maxLen := cfg.MaxTemplateLen()
	f.Fuzz(func(t *testing.T, method, host, path string) {
		if len(path) > 1<<16 {
			return
		}
		for _, tp := range []*Templater{plain, withSpec} {
			tmpl, params, _ := tp.Template(method, host, path, nil)
			if !strings.HasPrefix(tmpl, "/") || len(tmpl) > maxLen {
				t.Fatalf("Template(%q) = %q (len %d, max %d)", path, tmpl, len(tmpl), maxLen)
			}
			for _, p := range params {
				if p.Value == "" || p.Name == "" || p.Type == TypeNone {
					t.Fatalf("Template(%q): bad param %+v", path, p)
				}
			}
		}
		ClassifySegment(path)
	})
}
