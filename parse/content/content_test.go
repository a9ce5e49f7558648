package content

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Credentials are assembled from parts so that secret scanners do not flag
// this file; none of them is live.
const (
	testJWT     = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testAWSID   = "AKIA" + "IOSFODNN7EXAMPLE"
	testAWSKey  = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
	testGitHub  = "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"
	testStripe  = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
	testGoogle  = "AIza" + "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
	testSlack   = "xoxb-" + "17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
	testOpenAI  = "sk-" + "proj-Xq3bT9vLk2RmZ8wYp4NcA1sDfGhJ6uE0"
	testPEM     = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----"
	testIBANde  = "DE89370400440532013000"
	testIBANgb  = "GB82WEST12345698765432"
	testCardV   = "4111111111111111"
	testCardMC  = "5555555555554444"
	testCardAmx = "378282246310005"
)

// c builds Counts from class/count pairs.
func c(kv ...any) Counts {
	var cs Counts
	for i := 0; i < len(kv); i += 2 {
		cs[kv[i].(Class)] = uint32(kv[i+1].(int))
	}
	return cs
}

func (cs Counts) String() string {
	var b strings.Builder
	for k, n := range cs {
		if n > 0 {
			fmt.Fprintf(&b, "%s=%d ", Class(k), n)
		}
	}
	return strings.TrimSpace(b.String())
}

func TestSensitive(t *testing.T) {
	a := NewAnalyzer(Config{})
	var sh Shape
	var cs Counts
	f := func(body, ct string, want Counts) {
		t.Helper()
		for run := 0; run < 2; run++ { // the second run proves the reset
			a.Analyze([]byte(body), ct, false, &sh, &cs)
			if cs != want {
				t.Fatalf("run %d: %q (%s):\n got %v\nwant %v", run, body, ct, cs, want)
			}
		}
	}
	text := func(body string, want Counts) { t.Helper(); f(body, "text/plain", want) }
	none := Counts{}

	// Email.
	text("contact jane.doe@example.com today", c(Email, 1))
	text("a+tag@sub.example.co.uk,b_c@x-y.io;", c(Email, 2))
	text("<a href=\"mailto:ops@example.org\">", c(Email, 1))
	for _, s := range []string{"icon@2x.png", "foo@bar", "@handle", "a@b.c", "lodash@4.17.21",
		"user@localhost", "x@-bad.com", ".a@b.com", "a..b@c.com", "a@b..com"} {
		text(s, none)
	}

	// Phone.
	for _, s := range []string{"+1 415 555 2671", "+14155552671", "+44 20 7946 0958", "+1 (415) 555-2671",
		"(415) 555-2671", "415-555-2671", "415.555.2671", "1 415 555 2671", "020 7946 0958", "06 12 34 56 78",
		"tel: +49 30 901820 00."} {
		text(s, c(Phone, 1))
	}
	for _, s := range []string{"2024-01-15", "2024-01-15T10:30:00Z", "2024-01-15 10:30:00", "192.168.1.100",
		"10.0.0.1", "v1.2.3", "order 12345678901", "1700000000000", "price 1999.99", "415-555-267",
		"123e4567-e89b-12d3-a456-426614174000", "ISBN 978-3-16-148410-0", "+1234", "155-555-2671",
		"4155552671", "id=415 555 2671x"} {
		text(s, none)
	}
	f(`{"phone":"5551234567","mobile":4155552671,"tel":"030 901820","fax":"n/a"}`, "application/json", c(Phone, 3))
	f(`{"order_id":4155552671,"ts":1700000000}`, "application/json", none)
	f(`{"phones":["+1 415 555 2671","0301234567"]}`, "application/json", c(Phone, 2))

	// Cards.
	for _, s := range []string{testCardV, testCardMC, testCardAmx, "4111 1111 1111 1111", "4111-1111-1111-1111",
		"3782 822463 10005", "card: 4012888888881881.", "6011111111111117", "3530111333300000", "2221000000000009"} {
		text(s, c(Card, 1))
	}
	for _, s := range []string{"4111111111111112", "1234567812345678", "0000000000000000", "4444444444444444",
		"4111 1111-1111 1111", "41111111111111111111", "411111111111111", "ORD-20240115-000123",
		"x4111111111111111", "4111111111111111x", "9111111111111111", "26167771-9700-4729-a9d1-44567b4115eb",
		"2616-7771-9700-4729-a9d1", "41 11 11 11 11 11 11 11"} {
		text(s, none)
	}
	text(testCardV+" "+testCardMC+", "+testCardAmx, c(Card, 3))
	f(`{"pan":4111111111111111,"total":4111.11}`, "application/json", c(Card, 1))

	// SSN.
	text("SSN 123-45-6789.", c(SSN, 1))
	for _, s := range []string{"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000",
		"123456789", "123 45 6789", "123-45-6789-1"} {
		text(s, none)
	}
	f(`{"ssn":"123456789","social_security_number":"123 45 6789","id":"123456789"}`, "application/json", c(SSN, 2))
	f(`{"ssn":"666456789"}`, "application/json", none)

	// IBAN.
	text(testIBANde, c(IBAN, 1))
	text("IBAN: "+testIBANgb+".", c(IBAN, 1))
	text("DE89 3704 0044 0532 0130 00", c(IBAN, 1))
	for _, s := range []string{"DE89370400440532013001", "DE8937040044053201300", "XX89370400440532013000",
		"DE89 37040044 0532013000", "de89370400440532013000"} {
		text(s, none)
	}

	// JWT.
	text("Authorization: Bearer "+testJWT, c(JWT, 1))
	text("eyJmb28iOiJiYXIifQ.eyJ4IjoxfQ.abc", none) // header without "alg"
	text("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", c(JWT, 1))
	text("eyJhbGciOiJIUzI1NiJ9", none)

	// Private keys.
	text(testPEM, c(PrivateKey, 1))
	text("-----BEGIN OPENSSH "+"PRIVATE KEY-----", c(PrivateKey, 1))
	text("-----BEGIN PUBLIC KEY-----\nMIIB\n-----BEGIN CERTIFICATE-----", none)
	f(`{"key":"`+strings.ReplaceAll(testPEM, "\n", `\n`)+`"}`, "application/json", c(PrivateKey, 1))

	// Cloud secrets.
	for _, s := range []string{testAWSID, testGitHub, testStripe, testGoogle, testSlack, testOpenAI,
		"github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop", "glpat-" + "xYz123AbC456dEf789gHi0",
		"npm_" + "abcdefghijABCDEFGHIJ0123456789abcdef", "SG." + "abcdefghijABCDEFGHIJ01.abcdefghijABCDEFGHIJ0123456789abcdefghijKLM",
		"aws_secret_access_key = " + testAWSKey, "AWS_SECRET_ACCESS_KEY=\"" + testAWSKey + "\""} {
		text(s, c(CloudSecret, 1))
	}
	for _, s := range []string{"AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLEX", "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
		"sk-this-is-a-slug-not-a-key-at-all-ok", "ghp_short", "xoxb-1", testAWSKey} {
		text(s, none)
	}
	f(`{"aws_secret_access_key":"`+testAWSKey+`"}`, "application/json", c(CloudSecret, 1, SecretField, 1))

	// Password and secret fields.
	f(`{"username":"bob","password":"hunter2"}`, "application/json", c(PasswordField, 1))
	f(`{"password":"","pwd":null,"passwd":"********","pass":"[REDACTED]","passphrase":"•••"}`, "application/json", none)
	f(`{"password_changed_at":"2024-01-01","passwordPolicy":"strong","password_reset_required":true}`, "application/json", none)
	f(`{"new_password":"x1","currentPassword":"y2","password_hash":"$2b$12$abc"}`, "application/json", c(PasswordField, 3))
	f(`{"api_key":"abc123","clientSecret":"s3cr3t","refresh_token":"r1","token":"t"}`, "application/json", c(SecretField, 4))
	f(`{"access_token":"`+testJWT+`","token_type":"Bearer","expires_in":3600}`, "application/json", c(SecretField, 1, JWT, 1))
	f(`{"next_page_token":"abc","pageToken":"x","csrf_token":"y","total_tokens":12,"is_secret":true}`, "application/json", none)
	f("username=bob&password=hunter2&api_key=k&email=bob%40example.com", "application/x-www-form-urlencoded",
		c(PasswordField, 1, SecretField, 1, Email, 1))
	f("user%5Bpassword%5D=hunter2&remember=on", "application/x-www-form-urlencoded", c(PasswordField, 1))

	// Negatives in a realistic response.
	f(`{"order":"ORD-2024-000123","id":"550e8400-e29b-41d4-a716-446655440000","created":"2024-01-15T10:30:00.123Z",
	  "ts":1705314600123,"price":1999.99,"qty":3,"ip":"203.0.113.42","version":"2.14.3","sku":"AB-1234-5678-90",
	  "tracking":"1Z999AA10123456784","ean":"4006381333931","nonce":"k2Fh7xQ9"}`, "application/json", none)
}

func TestShape(t *testing.T) {
	f := func(cfg Config, body, ct string, truncated bool, want Shape, wantCounts Counts) {
		t.Helper()
		a := NewAnalyzer(cfg)
		var sh Shape
		var cs Counts
		for run := 0; run < 2; run++ {
			a.Analyze([]byte(body), ct, truncated, &sh, &cs)
			if !slices.Equal(sh.Fields, want.Fields) || sh.FieldsDropped != want.FieldsDropped || sh.Records != want.Records ||
				sh.Truncated != want.Truncated || sh.Malformed != want.Malformed || sh.Format != want.Format {
				t.Fatalf("run %d: %q:\n got %+v\nwant %+v", run, body, sh, want)
			}
			if cs != wantCounts {
				t.Fatalf("run %d: %q: counts %v, want %v", run, body, cs, wantCounts)
			}
		}
	}
	const js = "application/json"
	j := func(records int64, fields ...string) Shape {
		return Shape{Fields: fields, Records: records, Format: FormatJSON}
	}
	none := Counts{}

	f(Config{}, `{"data":[{"email":"a@example.com","id":1},{"email":"b@example.com","id":2}],"meta":{"total":2}}`, js, false,
		j(2, "data", "data[].email", "data[].id", "meta", "meta.total"), c(Email, 2))
	f(Config{}, ` [{"id":1,"name":"x"},{"id":2}] `, js, false, j(2, "[].id", "[].name"), none)
	f(Config{}, `[]`, js, false, j(0), none)
	f(Config{}, `{}`, js, false, j(1), none)
	f(Config{}, `{"orders":[{"n":1},{"n":2},{"n":3}],"total":3}`, js, false, j(3, "orders", "orders[].n", "total"), none)
	f(Config{}, `{"id":7,"addresses":[{"n":1},{"n":2}]}`, js, false, j(1, "addresses", "addresses[].n", "id"), none)
	f(Config{}, `{"id":7,"roles":["a","b"]}`, js, false, j(1, "id", "roles"), none)
	f(Config{}, `{"a":[{}],"b":[{},{}]}`, js, false, j(1, "a", "b"), none)
	f(Config{}, `{"data":[1,2],"b":[{},{}]}`, js, false, j(2, "b", "data"), none)
	f(Config{}, `{"tags":[1,2],"results":[1,2,3,4],"items":[1]}`, js, false, j(4, "items", "results", "tags"), none)
	f(Config{}, `{"id":1,"user":{"name":"x","address":{"city":"Berlin","zip":"10115"}},"m":[[1,2],[3]]}`, js, false,
		j(1, "id", "m", "user", "user.address", "user.address.city", "user.address.zip", "user.name"), none)
	f(Config{}, `{"na\"me":"x\u0040example.com","e\\":"\ud83d\ude00"}`, js, false, j(1, `e\\`, `na\"me`), c(Email, 1))
	f(Config{}, `{"users":{"123":{"email":"a@b.io"},"550e8400-e29b-41d4-a716-446655440000":{"email":"c@d.io"},"deadbeef00112233":1}}`,
		js, false, j(1, "users", "users.{id}", "users.{id}.email"), c(Email, 2))
	long := strings.Repeat("k", 100)
	f(Config{}, `{"`+long+`":1}`, js, false, j(1, strings.Repeat("k", 64)+"…"), none)
	f(Config{}, "{\"\xff\xfe\x01\":1}", js, false, j(1, "???"), none)
	f(Config{}, "{\"\xc3\xa9t\xc3\xa9\":1}", js, false, j(1, "été"), none)

	// Truncated documents: what was seen, Records a lower bound.
	f(Config{}, `{"items":[{"id":1},{"id":2},{"id":`, js, true, Shape{Fields: []string{"items", "items[].id"}, Records: 3, Truncated: true, Format: FormatJSON}, none)
	f(Config{}, `[{"email":"jane@example.com"},{"email":"jo`, js, true, Shape{Fields: []string{"[].email"}, Records: 2, Truncated: true, Format: FormatJSON}, c(Email, 1))
	f(Config{}, `{"data":[{"email":"jane@exa`, js, true, Shape{Fields: []string{"data", "data[].email"}, Records: 1, Truncated: true, Format: FormatJSON}, none)
	f(Config{}, `{"a":tr`, js, true, Shape{Fields: []string{"a"}, Records: 1, Truncated: true, Format: FormatJSON}, none)
	f(Config{}, `{"ke`, js, true, Shape{Records: 1, Truncated: true, Format: FormatJSON}, none)
	f(Config{MaxWalkBytes: 10}, `{"a":1,"b":2,"c":3}`, js, false, Shape{Fields: []string{"a", "b"}, Records: 1, Truncated: true, Format: FormatJSON}, none)
	// Beyond MaxScanBytes a JSON body is walked (every field, every record)
	// but its values are not scanned; other bodies end there.
	f(Config{MaxScanBytes: 30}, `[{"email":"a@example.com"},{"email":"b@example.com"},{"email":"c@example.com","ssn":"x"}]`, js, false,
		j(3, "[].email", "[].ssn"), c(Email, 1))
	// Malformed JSON is scanned as text from the error on, and ends there.
	f(Config{MaxScanBytes: 12}, `{"a":1} x "b@c.com"`, js, false, Shape{Fields: []string{"a"}, Records: -1, Truncated: true, Malformed: true, Format: FormatJSON}, none)
	f(Config{MaxScanBytes: 30}, `{"a":1} x "b@c.com"`, js, false, Shape{Fields: []string{"a"}, Records: -1, Malformed: true, Format: FormatJSON}, c(Email, 1))
	f(Config{MaxScanBytes: 10}, "<p>mail ops@example.com</p>", "text/html", false, Shape{Records: -1, Truncated: true, Format: FormatOther}, none)

	// Bounds.
	f(Config{MaxFields: 3}, `{"e":1,"d":2,"c":3,"b":4,"a":5,"a":6}`, js, false, Shape{Fields: []string{"c", "d", "e"}, FieldsDropped: 2, Records: 1, Format: FormatJSON}, none)
	f(Config{MaxDepth: 2}, `{"a":{"b":{"c":"x@y.com","d":[{"e":1}]},"f":1},"g":[1,2]}`, js, false,
		j(1, "a", "a.b", "a.f", "g"), c(Email, 1))
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	f(Config{}, deep, js, false, j(1), none)

	// Content types and sniffing.
	f(Config{}, `[1,2,3]`, "", false, j(3), none)
	f(Config{}, "\xef\xbb\xbf {\"a\":1}", "text/plain; charset=utf-8", false, j(1, "a"), none)
	f(Config{}, `{"a":1}`, "application/vnd.api+json; charset=utf-8", false, j(1, "a"), none)
	f(Config{}, `{"a":1}`, "Application/JSON", false, j(1, "a"), none)
	f(Config{}, "{\"a\":1}\n{\"a\":2,\"b\":\"x@y.io\"}\n{\"c\"", "application/x-ndjson", true,
		Shape{Fields: []string{"a", "b", "c"}, Records: 3, Truncated: true, Format: FormatJSON}, c(Email, 1))
	f(Config{}, `42`, js, false, j(-1), none)
	f(Config{}, ``, js, false, j(-1), none)
	f(Config{}, "user=bob&password=hunter2&email=bob%40example.com&user=x&=y", "application/x-www-form-urlencoded", false,
		Shape{Fields: []string{"email", "password", "user"}, Records: -1, Format: FormatForm}, c(PasswordField, 1, Email, 1))
	f(Config{}, "<p>mail ops@example.com</p>", "text/html", false, Shape{Records: -1, Format: FormatOther}, c(Email, 1))
	f(Config{}, `{"a":"x@y.com"}`, "text/html", false, Shape{Records: -1, Format: FormatOther}, c(Email, 1))

	// Malformed: the rest is scanned as text.
	f(Config{}, "<html>oops a@b.com</html>", js, false, Shape{Records: -1, Malformed: true, Format: FormatOther}, c(Email, 1))
	f(Config{}, `{"a":1 x "b@c.com"}`, js, false, Shape{Fields: []string{"a"}, Records: -1, Malformed: true, Format: FormatJSON}, c(Email, 1))
	f(Config{}, `{"a":1}{"b":2}`, js, false, Shape{Fields: []string{"a"}, Records: -1, Malformed: true, Format: FormatJSON}, none)
}

func TestParamNames(t *testing.T) {
	a := NewAnalyzer(Config{MaxFields: 4})
	var dst []string
	f := func(body, ct string, want ...string) {
		t.Helper()
		for run := 0; run < 2; run++ {
			dst = a.ParamNames([]byte(body), ct, dst[:0])
			if !slices.Equal(dst, want) {
				t.Fatalf("run %d: %q: got %q, want %q", run, body, dst, want)
			}
		}
	}
	f(`{"username":"a","password":"b","profile":{"x":{"y":1}},"roles":["a","}"]}`, "application/json", "username", "password", "profile", "roles")
	f(`{"a":1,"b":true,"a":null}`, "application/json", "a", "b")
	f(`{"a":1,"b":`, "application/json", "a", "b")
	f(`{"1":1,"2":2,"role":"admin"}`, "", "{id}", "role")
	f(`{"a":1,"b":2,"c":3,"d":4,"e":5}`, "application/json", "a", "b", "c", "d")
	f(`[{"a":1}]`, "application/json")
	f("a=1&b=2&a=3&c%20d=4", "application/x-www-form-urlencoded", "a", "b", "c d")
	f("a=1", "text/plain")
}

func TestClassString(t *testing.T) {
	want := []string{"email", "phone", "card", "ssn", "iban", "jwt", "private_key", "cloud_secret", "password_field", "secret_field"}
	for k := Class(0); k < NumClasses; k++ {
		if k.String() != want[k] {
			t.Errorf("Class(%d) = %q, want %q", k, k.String(), want[k])
		}
	}
	if NumClasses.String() != "unknown" {
		t.Error("NumClasses.String()")
	}
}

// TestStringEnd checks the word-at-a-time stringEnd against the plain loop,
// on strings with quotes and backslashes everywhere.
func TestStringEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab\"\\\x00\xff\x22\x5c ")
	for n := 0; n < 20000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
			if r.IntN(3) > 0 {
				b[i] = 'a' + byte(r.IntN(26))
			}
		}
		start := 0
		if len(b) > 0 {
			start = r.IntN(len(b))
		}
		e1, c1, s1 := stringEnd(b, start)
		e2, c2, s2 := stringEndBytes(b, start, false)
		if e1 != e2 || c1 != c2 || s1 != s2 {
			t.Fatalf("stringEnd(%q, %d) = %d %v %v, want %d %v %v", b, start, e1, c1, s1, e2, c2, s2)
		}
	}
}

// TestDigitsAt checks the eight-bytes-at-a-time count against a byte loop
// on every byte value in every position of a word and in the tail.
func TestDigitsAt(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 11; pos++ {
			v := []byte("x-Z.....y a")
			v[pos] = byte(c)
			want, wantAt := 0, false
			for _, b := range v {
				if b >= '0' && b <= '9' {
					want++
				}
				wantAt = wantAt || b == '@'
			}
			if got, gotAt := digitsAt(v); got != want || gotAt != wantAt {
				t.Fatalf("digitsAt(%q) = %d, %v; want %d, %v", v, got, gotAt, want, wantAt)
			}
		}
	}
	if got, at := digitsAt([]byte("4111 1111-1111 1111 @")); got != 16 || !at {
		t.Fatalf("card and at: %d %v", got, at)
	}
}

// TestCacheEmptiedMidBody: when the path cache fills up inside a body and
// is emptied, the paths the body reported before are not reported again. A
// body's fields and drops depend on the body alone, not on what the bodies
// before it left in the cache (found by FuzzAnalyze).
func TestCacheEmptiedMidBody(t *testing.T) {
	for _, c := range []struct {
		body      string
		maxFields int
		fields    string
		dropped   int
	}{
		{"a=1&b=1&c=1&d=1&e=1&a=1&b=2", 5, "a b c d e", 0},
		{"a=1&b=1&c=1&d=1&e=1&a=1&b=2", 3, "a b c", 2},
		{"a=1&b=1&c=1&d=1&e=1&a=1&f=1", 6, "a b c d e f", 0},
		{"a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&a=1&e=1&i=1", 9, "a b c d e f g h i", 0},
		{`{"a":1,"b":{"c":1,"d":1},"e":[{"a":1,"f":1}],"a":2,"b":{"c":2}}`, 7, "a b b.c b.d e e[].a e[].f", 0},
	} {
		a := NewAnalyzer(Config{MaxFields: c.maxFields, MaxCachedPaths: 4})
		ct := "application/x-www-form-urlencoded"
		if c.body[0] == '{' {
			ct = "application/json"
		}
		for run := range 3 {
			var sh Shape
			var cs Counts
			a.Analyze([]byte(c.body), ct, false, &sh, &cs)
			if got := strings.Join(sh.Fields, " "); got != c.fields || sh.FieldsDropped != c.dropped {
				t.Errorf("%s, run %d: fields %q, %d dropped; want %q, %d", c.body, run, got, sh.FieldsDropped, c.fields, c.dropped)
			}
		}
		names := a.ParamNames([]byte(c.body), ct, nil)
		if len(names) != len(slices.Compact(slices.Sorted(slices.Values(names)))) || len(names) > c.maxFields {
			t.Errorf("%s: param names %q", c.body, names)
		}
	}
}
