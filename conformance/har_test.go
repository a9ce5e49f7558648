package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// harTxs builds the transactions a perfect observer would report for a HAR file.
func harTxs(t *testing.T, c Case) []Transaction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, "expected.har.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f harFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []Transaction
	for i, e := range f.Log.Entries {
		h := newHARCheck(i, e)
		o := Transaction{SrcIP: "10.0.0.1", SrcPort: 50000 + i, DstIP: "10.0.0.2", DstPort: 80,
			HasRequest: true, HasResponse: true, Method: h.method, Target: h.path, Host: h.authority,
			Status: h.status, ResponseDecodedLen: -1}
		if c := e.Response.Content; c != nil {
			o.ResponseBody = []byte(c.Text)
			if c.Size != nil {
				o.ResponseDecodedLen = *c.Size
			}
		}
		out = append(out, o)
	}
	return out
}

func TestHARGoInsecure(t *testing.T) {
	c := caseNamed(t, "pcap2har-go-insecure")
	if n := len(checksOfKind(c, "har/entry")); n != 21 || len(checksOfKind(c, "har/distinct")) != 1 {
		t.Fatalf("%d entry checks, want 21 + 1 distinct", n)
	}
	obs := harTxs(t, c)
	r := Evaluate(c, obs)
	if !r.Passed() || r.Pass != 22 {
		t.Fatalf("perfect observations: %d pass, first failure %s", r.Pass, r.FirstFailure())
	}
	// entries #6 and #12 are identical: with one transaction for both, every
	// entry still finds a match, but not a distinct one
	less := append(clone(obs[:11]), obs[12:]...)
	r = Evaluate(c, less)
	if r.Fail != 1 || r.FirstFailing.Check.Kind() != "har/distinct" {
		t.Errorf("without #12: %d failed, first %s", r.Fail, r.FirstFailure())
	}
	// each field can fail an entry
	for name, mutate := range map[string]func(*Transaction){
		"method": func(o *Transaction) { o.Method = "GET" },
		"target": func(o *Transaction) { o.Target = "/admin/login/pwd?x" },
		"host":   func(o *Transaction) { o.Host = "other" },
		"status": func(o *Transaction) { o.Status = 200 },
		"size":   func(o *Transaction) { o.ResponseDecodedLen = 300 },
		"text":   func(o *Transaction) { o.ResponseBody = []byte("<html>") },
	} {
		bad := clone(obs)
		mutate(&bad[0])
		wantStatus(t, c.Checks[0], bad, Fail)
		_ = name
	}
}

func TestHARChunkedGzipAndH2(t *testing.T) {
	c := caseNamed(t, "pcap2har-http-chunked-gzip")
	obs := harTxs(t, c)
	obs[0].Host = "www.wireshark.org:8080"
	obs[0].ResponseBody = obs[0].ResponseBody[:300] // a prefix is enough
	if r := Evaluate(c, obs); !r.Passed() {
		t.Errorf("chunked-gzip: %s", r.FirstFailure())
	}
	obs[0].ResponseDecodedLen = 29000 // compressed length reported as decoded
	if r := Evaluate(c, obs); r.Passed() {
		t.Error("chunked-gzip passes with the wrong decoded length")
	}
	if r := Evaluate(caseNamed(t, "pcap2har-http2-dump"), nil); r.Applicable() {
		t.Error("HTTP/2 HAR entries should not be applicable")
	}
}
