package content

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// usersJSON is a realistic 64 KiB prefix of a user list: names, emails,
// phones, addresses, timestamps, UUIDs, nested objects.
func usersJSON(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	first := []string{"jane", "john", "maria", "wei", "ahmed", "olga", "lucas", "aiko"}
	last := []string{"doe", "smith", "garcia", "chen", "khan", "ivanova", "silva", "tanaka"}
	city := []string{"Berlin", "Austin", "São Paulo", "Osaka", "Lagos", "Toronto"}
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		f, l := first[r.IntN(len(first))], last[r.IntN(len(last))]
		fmt.Fprintf(&b, `{"id":%d,"uuid":"%08x-%04x-4%03x-a%03x-%012x","name":"%s %s","email":"%s.%s%d@example.com",`+
			`"phone":"+1 %03d 555 %04d","address":{"street":"%d Main St","city":"%s","zip":"%05d","country":"US"},`+
			`"created_at":"2024-0%d-1%dT10:%02d:00Z","roles":["user","viewer"],"active":%t,"score":%d.%02d,"bio":"Hello, I am %s."}`,
			1000+i, r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1), f, l, f, l, i,
			200+r.IntN(700), r.IntN(10000), 1+r.IntN(999), city[r.IntN(len(city))], r.IntN(100000),
			1+r.IntN(9), r.IntN(10), r.IntN(60), r.IntN(2) == 0, r.IntN(100), r.IntN(100), f)
	}
	b.WriteString(`],"meta":{"page":1,"per_page":100}}`)
	return b.Bytes()[:size]
}

// BenchmarkAnalyze measures Analyze (shape and scan) over 64 KiB bodies,
// realistic and hostile. Compare runs with
//
//	go test -run='^$' -bench=Analyze -benchmem -count=10 ./parse/content/ > new.txt
//	benchstat old.txt new.txt
func BenchmarkAnalyze(b *testing.B) {
	const size = 64 << 10
	cases := []struct {
		name, ct string
		body     []byte
	}{
		{"users", "application/json", usersJSON(size)},
		{"users-as-text", "text/html", usersJSON(size)},
		{"digits", "application/json", bytes.Repeat([]byte("1"), size)},
		{"digits-text", "text/plain", bytes.Repeat([]byte("4"), size)},
		{"digit-groups", "text/plain", bytes.Repeat([]byte("1 "), size/2)},
		{"card-groups", "text/plain", bytes.Repeat([]byte("4111 "), size/5)},
		{"ssn-groups", "text/plain", bytes.Repeat([]byte("123-"), size/4)},
		{"at-signs", "text/plain", bytes.Repeat([]byte("@"), size)},
		{"a-at", "text/plain", bytes.Repeat([]byte("a.a@a."), size/6)},
		{"nested", "application/json", bytes.Repeat([]byte("["), size)},
		{"nested-objects", "application/json", []byte(strings.Repeat(`{"a":`, size/5))},
		{"sk-dashes", "text/plain", bytes.Repeat([]byte("sk-"), size/3)},
		{"jwt-dots", "text/plain", bytes.Repeat([]byte("eyJ."), size/4)},
		{"backslashes", "application/json", append([]byte(`["`), bytes.Repeat([]byte(`\\\"`), size/3)...)},
		{"many-keys", "application/json", manyKeys(size)},
		{"form", "application/x-www-form-urlencoded", bytes.Repeat([]byte("a%40b=c%2Bd&"), size/12)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			a := NewAnalyzer(Config{})
			var sh Shape
			var cs Counts
			a.Analyze(c.body, c.ct, false, &sh, &cs) // warm
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a.Analyze(c.body, c.ct, false, &sh, &cs)
			}
		})
	}
}

func manyKeys(size int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; b.Len() < size-20; i++ {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(`"z":0}`)
	return b.Bytes()
}

func BenchmarkParamNames(b *testing.B) {
	body := []byte(`{"username":"jane","password":"hunter2","remember":true,"profile":{"name":"Jane","tags":["a","b"]}}`)
	a := NewAnalyzer(Config{})
	var dst []string
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dst = a.ParamNames(body, "application/json", dst[:0])
	}
}

func TestUsersFixture(t *testing.T) {
	a := NewAnalyzer(Config{})
	var sh Shape
	var cs Counts
	body := usersJSON(64 << 10)
	a.Analyze(body, "application/json", true, &sh, &cs)
	t.Logf("fields %q records %d counts %v", sh.Fields, sh.Records, cs)
	// Every record is walked; the values of the first 16 KiB are scanned.
	if sh.Records < 190 || cs[Email] < 40 || cs[Phone] < 40 || cs[Email] > uint32(sh.Records)/3 || cs[Card] != 0 || cs[SSN] != 0 {
		t.Fatalf("records %d counts %v", sh.Records, cs)
	}
	if n := testing.AllocsPerRun(10, func() { a.Analyze(body, "application/json", true, &sh, &cs) }); n != 0 {
		t.Errorf("warm Analyze allocates %v times", n)
	}
}

// smallBodies are realistic small API responses (~1–2 KiB): most real
// responses are small, so per-call costs matter.
func smallBodies() []struct{ name, body string } {
	user := `{"id":12345,"uuid":"550e8400-e29b-41d4-a716-446655440000","username":"jane.doe","email":"jane.doe@example.com",` +
		`"first_name":"Jane","last_name":"Doe","phone":"+1 415 555 2671","avatar_url":"https://cdn.example.com/avatars/12345@2x.png",` +
		`"created_at":"2023-04-12T08:15:30Z","updated_at":"2024-01-15T10:30:00.123Z","last_login_at":"2024-01-15T09:00:00Z",` +
		`"email_verified":true,"mfa_enabled":false,"locale":"en-US","timezone":"America/Los_Angeles",` +
		`"address":{"street":"1 Market St","city":"San Francisco","state":"CA","zip":"94105","country":"US"},` +
		`"roles":["user","billing_admin"],"permissions":["orders:read","orders:write","invoices:read"],` +
		`"organization":{"id":987,"name":"Example Inc","plan":"enterprise","seats":250,"billing_email":"billing@example.com"},` +
		`"preferences":{"newsletter":true,"theme":"dark","notifications":{"email":true,"sms":false,"push":true}},` +
		`"stats":{"orders":42,"lifetime_value":12999.5,"average_order":309.51},"bio":"Product manager. Coffee, bikes and maps.",` +
		`"links":{"self":"/api/v2/users/12345","orders":"/api/v2/users/12345/orders"}}`
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := 0; i < 5; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"ord_%d9a8b7c6","number":"ORD-2024-%06d","status":"shipped","currency":"USD","total":%d.99,`+
			`"items":[{"sku":"AB-1234-%04d","name":"Widget","qty":%d,"price":19.99},{"sku":"CD-5678-%04d","name":"Gadget","qty":1,"price":49.5}],`+
			`"customer":{"id":%d,"email":"customer%d@example.org"},"created_at":"2024-01-1%dT10:30:00Z","tracking":"1Z999AA1012345678%d"}`,
			i, 100+i, 20*i+69, i, i+1, i, 5000+i, i, i, i)
	}
	b.WriteString(`],"meta":{"page":1,"per_page":5,"total":128},"links":{"next":"/api/v2/orders?page=2"}}`)
	return []struct{ name, body string }{{"user", user}, {"orders", b.String()}}
}

// BenchmarkAnalyzeSmall measures Analyze over small realistic responses.
func BenchmarkAnalyzeSmall(b *testing.B) {
	for _, c := range smallBodies() {
		body := []byte(c.body)
		b.Run(c.name, func(b *testing.B) {
			a := NewAnalyzer(Config{})
			var sh Shape
			var cs Counts
			a.Analyze(body, "application/json", false, &sh, &cs) // warm
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a.Analyze(body, "application/json", false, &sh, &cs)
			}
		})
	}
}
