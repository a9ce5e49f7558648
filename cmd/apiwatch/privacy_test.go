package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/pipeline"
)

// TestEventsKeepNoSecrets runs real traffic through `analyze --events` and
// checks that no credential, password, cookie, token or PII value present
// in that traffic appears anywhere in the output. The values are harvested
// from the raw transactions, so the test follows whatever the captures hold.
func TestEventsKeepNoSecrets(t *testing.T) {
	files := []string{demo}
	for _, pat := range []string{"suricata-verify/*/input.pcap", "other/*/input.pcap"} {
		m, _ := filepath.Glob(filepath.Join(sharedpcaps.Root(t), pat))
		files = append(files, m...)
	}
	t.Setenv("APIWATCH_SECRET", "privacy-test-secret")
	total := 0
	for _, file := range files {
		secrets := harvest(t, file)
		if len(secrets) == 0 {
			continue
		}
		total += len(secrets)
		out := filepath.Join(t.TempDir(), "events.jsonl")
		if _, err := runCLI(t, "analyze", "--quiet", "--events", out, file); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		events := eventValues(t, out)
		for s, what := range secrets {
			if bytes.Contains(events, []byte(s)) {
				t.Errorf("%s: %s %q appears in the events", filepath.Base(filepath.Dir(file)), what, s)
			}
		}
	}
	// The demo alone carries bearer tokens, cookies, passwords and emails:
	// a harvest that finds nothing means the test checks nothing.
	if total < 100 {
		t.Fatalf("harvested only %d secret values: the harvest is broken", total)
	}
	t.Logf("checked %d secret and PII values over %d captures", total, len(files))
}

var (
	// Field names in bodies and queries: events keep names by design.
	jsonKeyRE  = regexp.MustCompile(`"([^"\\]{1,64})"\s*:`)
	formNameRE = regexp.MustCompile(`(?:^|[&?])([A-Za-z0-9_.\[\]-]{1,64})=`)
	emailRE    = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	secretKV   = regexp.MustCompile(`(?i)"?(password|passwd|pass|pwd|secret|token|access_token|refresh_token|api_?key|client_secret|ssn|card(?:_?number)?|phone)"?\s*[:=]\s*"?([^"&,\s}]{4,})`)
)

// eventValues returns every value (not key) of every event in a JSON-lines
// file, one per line: a secret must not hide in any of them, while a field
// name such as "username_hash" says nothing about anyone.
func eventValues(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		default:
			out = fmt.Appendf(out, "%v\n", v)
		}
	}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		walk(v)
	}
	return out
}

// harvest collects the secret and PII values in a capture's HTTP traffic,
// mapped to what they are. Short values are left out: "1" or "ok" would
// match everywhere and prove nothing.
func harvest(t *testing.T, file string) map[string]string {
	t.Helper()
	found := map[string]string{}
	var public [][]byte // Host and User-Agent values, which events keep by design
	paths := map[string]bool{}
	names := map[string]bool{}
	add := func(what string, v []byte) {
		v = bytes.TrimSpace(v)
		if len(v) >= 6 {
			found[string(v)] = what
		}
	}
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	h := parse.HandlerFunc(func(tx *parse.Transaction) {
		for _, m := range []*http1.Message{tx.Request, tx.Response} {
			if m == nil {
				continue
			}
			for _, hd := range m.Headers {
				switch strings.ToLower(string(hd.Name)) {
				case "host", "user-agent":
					public = append(public, bytes.Clone(hd.Value))
				case "authorization", "proxy-authorization":
					scheme, cred, _ := bytes.Cut(bytes.TrimSpace(hd.Value), []byte(" "))
					add("credential", cred)
					if strings.EqualFold(string(scheme), "basic") {
						if dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(cred))); err == nil {
							user, pass, _ := strings.Cut(string(dec), ":")
							add("basic-auth user", []byte(user))
							add("basic-auth password", []byte(pass))
						}
					}
				case "cookie":
					for _, c := range bytes.Split(hd.Value, []byte(";")) {
						if _, v, ok := bytes.Cut(c, []byte("=")); ok {
							add("cookie value", v)
						}
					}
				case "set-cookie":
					// name=value; then attributes (Domain, Path…), not secret.
					c, _, _ := bytes.Cut(hd.Value, []byte(";"))
					if _, v, ok := bytes.Cut(c, []byte("=")); ok {
						add("cookie value", v)
					}
				case "x-api-key", "api-key", "x-auth-token", "x-access-token":
					add("api key", hd.Value)
				}
			}
			if m.IsRequest {
				p, q, ok := strings.Cut(string(m.Target), "?")
				paths[p] = true
				if ok {
					if vals, err := url.ParseQuery(q); err == nil {
						for _, vs := range vals {
							for _, v := range vs {
								// Numeric ids are kept as numbers by design
								// (object_ids: sequences must show).
								if strings.Trim(v, "0123456789") != "" {
									add("query value", []byte(v))
								}
							}
						}
					}
				}
			}
			for _, re := range []*regexp.Regexp{jsonKeyRE, formNameRE} {
				for _, k := range re.FindAllSubmatch(m.Body, -1) {
					names[string(k[1])] = true
				}
				for _, k := range re.FindAllStringSubmatch(string(m.Target), -1) {
					names[k[1]] = true
				}
			}
			for _, e := range emailRE.FindAll(m.Body, -1) {
				add("email", e)
			}
			for _, kv := range secretKV.FindAllSubmatch(m.Body, -1) {
				add(strings.ToLower(string(kv[1]))+" value", kv[2])
			}
		}
	})
	if _, err := pipeline.Run(context.Background(), pipeline.Config{Workers: 1}, []capture.Source{src}, []string{file},
		func(int) parse.Handler { return h }); err != nil {
		t.Fatal(err)
	}
	// Some captures were anonymised by replacing text with x's; such a
	// value also matches the anonymised host names and proves nothing.
	for s := range found {
		if strings.Trim(s, "x.") == "" {
			delete(found, s)
		}
		for _, p := range public {
			if bytes.Contains(p, []byte(s)) {
				delete(found, s)
			}
		}
		// A test credential spelled like a field name ("password") cannot be
		// told from the name, which events keep.
		if names[s] {
			delete(found, s)
		}
		// A redirect target in a query (next=/admin) is a path of the
		// site, not a secret, when the capture also requests it.
		if found[s] == "query value" && paths[s] {
			delete(found, s)
		}
	}
	return found
}
