package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestOpsServer(t *testing.T) {
	o, err := startOps("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	n := 41.0
	o.counter("apiwatch_test_things_total", "Things.", func() float64 { n++; return n })
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + o.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz before ready: %d, want 503", code)
	}
	o.ready.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "apiwatch_test_things_total 42") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics:\n%.400s", body)
	}
}
