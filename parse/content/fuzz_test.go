package content

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAnalyze: no panics, bounded output, valid UTF-8 field paths, and the
// same answer twice on one Analyzer.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"email":"a@example.com","phone":"+1 415 555 2671"}],"meta":{"n":1}}`,
		`[{"id":1,"card":"4111 1111 1111 1111","ssn":"123-45-6789"}]`,
		`{"password":"x","access_token":"` + testJWT + `","iban":"` + testIBANde + `"}`,
		`{"a":{"b":{"c":[[[{"d":"\u0040\ud83d\ude00\"\\"}]]]}}}`,
		`{"items":[{"id":1},{"id":`,
		"user=bob&password=hunter2&e=a%40b.co",
		testPEM + " " + testAWSID + " aws_secret_access_key=" + testAWSKey,
		"{\"a\":1}\n{\"b\":2}\n",
		strings.Repeat("[", 40),
		"\xff\xfe{\"\xff\":\"\xff\"}",
	} {
		for ct := range uint8(5) {
			f.Add([]byte(s), ct)
		}
	}
	cts := []string{"application/json", "", "application/x-www-form-urlencoded", "text/html", "application/x-ndjson"}
	const maxFields = 16
	a := NewAnalyzer(Config{MaxFields: maxFields, MaxDepth: 6, MaxScanBytes: 4096})
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		contentType := cts[int(ct)%len(cts)]
		var sh, sh2 Shape
		var cs, cs2 Counts
		a.Analyze(body, contentType, false, &sh, &cs)
		if len(sh.Fields) > maxFields || sh.Records < -1 || sh.Records > int64(len(body)) || sh.FieldsDropped < 0 {
			t.Fatalf("shape out of bounds: %+v", sh)
		}
		// Only a prefix is analysed: what is scanned (MaxScanBytes), or of
		// valid JSON what is walked (its values are scanned in the first
		// MaxScanBytes). Malformed JSON is scanned from the error on, to
		// MaxScanBytes of the body without its byte order mark.
		n, limit := len(body), 4096
		switch {
		case sh.Format == FormatJSON && !sh.Malformed:
			limit = DefaultMaxWalkBytes
		case sh.Format == FormatJSON:
			n = len(bytes.TrimPrefix(body, bom))
		}
		if sh.Truncated != (n > limit) {
			t.Fatalf("truncated %v for %d bytes (%v, malformed %v)", sh.Truncated, len(body), sh.Format, sh.Malformed)
		}
		for k, p := range sh.Fields {
			if !utf8.ValidString(p) || len(p) > 6*(maxKeyLen+len("…")+3) {
				t.Fatalf("bad field %q", p)
			}
			if k > 0 && sh.Fields[k-1] >= p {
				t.Fatalf("fields not sorted and distinct: %q", sh.Fields)
			}
		}
		var total uint64
		for _, n := range cs {
			total += uint64(n)
		}
		if total > uint64(len(body)) {
			t.Fatalf("counts %v for %d bytes", cs, len(body))
		}
		a.Analyze(body, contentType, false, &sh2, &cs2)
		if cs2 != cs || !slices.Equal(sh2.Fields, sh.Fields) || sh2.FieldsDropped != sh.FieldsDropped || sh2.Records != sh.Records {
			t.Fatalf("second run differs: %+v %v / %+v %v", sh, cs, sh2, cs2)
		}
		names := a.ParamNames(body, contentType, nil)
		if len(names) > maxFields {
			t.Fatalf("%d param names", len(names))
		}
		for _, p := range names {
			if !utf8.ValidString(p) || len(p) > maxKeyLen+len("…") {
				t.Fatalf("bad param name %q", p)
			}
		}
	})
}
