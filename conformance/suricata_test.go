package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func tx(target string, status int, body string) Transaction {
	return Transaction{
		SrcIP: "10.0.0.1", SrcPort: 40000, DstIP: "10.0.0.2", DstPort: 80,
		HasRequest: true, HasResponse: status != 0,
		Method: "GET", Target: target, Host: "example.com", Proto: "HTTP/1.1",
		Status: status, ResponseProto: "HTTP/1.1",
		ResponseBodyLen: int64(len(body)), ResponseDecodedLen: int64(len(body)),
		ResponseBody: []byte(body), RequestDecodedLen: 0,
	}
}

func TestSuricataHTTPGapSimple(t *testing.T) {
	c := caseNamed(t, "http-gap-simple")
	httpChecks := checksOfKind(c, "suricata/http")
	files := checksOfKind(c, "suricata/fileinfo")
	if len(httpChecks) != 3 || len(files) != 2 || len(c.Checks) != 5 {
		t.Fatalf("http-gap-simple: %d http, %d fileinfo, %d checks; want 3, 2, 5", len(httpChecks), len(files), len(c.Checks))
	}
	good := []Transaction{tx("/1", 200, strings.Repeat("a", 14)), tx("/2", 200, strings.Repeat("b", 14)), tx("/3", 200, strings.Repeat("c", 70))}
	good[2].Gap = true
	for _, ch := range c.Checks {
		wantStatus(t, ch, good, Pass)
	}
	r := Evaluate(c, good)
	if !r.Passed() || r.Pass != 5 {
		t.Errorf("report: %+v", r)
	}

	// each http check fails on its own: /2 missing; /1 twice (count is exact); /3 with status 500
	bad := clone(good)
	bad[1].Target = "/x"
	wantStatus(t, httpChecks[1], bad, Fail)
	wantStatus(t, httpChecks[0], append(clone(good), tx("/1", 200, "")), Fail)
	bad = clone(good)
	bad[2].Status = 500
	wantStatus(t, httpChecks[2], bad, Fail)

	// fileinfo: two 14-byte CLOSED files; a gap on one of them breaks it
	bad = clone(good)
	bad[0].Gap = true
	wantStatus(t, files[0], bad, Fail)
	bad = clone(good)
	bad[1].ResponseDecodedLen = 13
	wantStatus(t, files[0], bad, Fail)
	// 12-byte bodies (Content-Length 12 plus a stray CRLF on the wire, which
	// libhtp counts into the 14-byte file): undecidable, not failed
	bad = clone(good)
	bad[0].ResponseDecodedLen, bad[2].ResponseDecodedLen = 12, 12
	wantStatus(t, files[0], bad, NotApplicable)
	// the 70-byte TRUNCATED file with gaps: no gap observed → fail; wrong size → fail
	bad = clone(good)
	bad[2].Gap = false
	wantStatus(t, files[1], bad, Fail)
	bad = clone(good)
	bad[2].ResponseDecodedLen = 71
	wantStatus(t, files[1], bad, Fail)
	if r := Evaluate(c, nil); r.Passed() || r.Fail != 5 {
		t.Errorf("no observations: %d failed checks, want 5", r.Fail)
	}
}

func bug130Tx() Transaction {
	return Transaction{
		SrcIP: "10.100.0.8", SrcPort: 44270, DstIP: "162.2.41.200", DstPort: 80,
		HasRequest: true, HasResponse: true,
		Method: "GET", Target: "/publication/pub.home/home.html", Host: "www.abcdefghij.com", Proto: "HTTP/1.1",
		UserAgent: "Mozilla/5.0 (X11; U; Linux i686; fr; rv:1.9.0.6) Gecko/2009011912 Firefox/3.0.6",
		Referer:   "http://www.abcdefghij.com/abdeltat/login",
		Status:    401, ResponseProto: "HTTP/1.1", ContentType: "text/html; charset=iso-8859-1",
		ResponseBodyLen: 1483, ResponseDecodedLen: 1483, ResponseBody: bytes.Repeat([]byte("x"), 1483),
	}
}

func TestSuricataBug130NestedMatch(t *testing.T) {
	c := caseNamed(t, "bug-130")
	hc := checksOfKind(c, "suricata/http")
	if len(hc) != 1 {
		t.Fatalf("%d http checks, want 1", len(hc))
	}
	sc := hc[0].(*suricataCheck)
	for _, k := range []string{"http.hostname", "http.url", "http.http_method", "http.status", "http.protocol",
		"http.length", "http.http_user_agent", "http.http_content_type", "http.http_refer", "src_ip", "tx_id"} {
		if _, ok := sc.fields[k]; !ok {
			t.Errorf("nested http map not flattened: no %s in %v", k, sc.fields)
		}
	}
	good := []Transaction{bug130Tx()}
	for _, ch := range c.Checks {
		if NAReason(ch) == "" {
			wantStatus(t, ch, good, Pass)
		}
	}
	// the three alerts are tcp rules on raw payload: evaluated on their http fields only
	if got := len(checksOfKind(c, "suricata/alert")); got != 3 {
		t.Errorf("%d evaluable alert checks, want 3 (fields only)", got)
	}
	// server-side orientation (eve alerts are oriented by packet) still matches
	rev := bug130Tx()
	rev.SrcIP, rev.DstIP, rev.SrcPort, rev.DstPort = rev.DstIP, rev.SrcIP, rev.DstPort, rev.SrcPort
	wantStatus(t, hc[0], []Transaction{rev}, Pass)

	for name, mutate := range map[string]func(*Transaction){
		"host":         func(t *Transaction) { t.Host = "www.other.com" },
		"url":          func(t *Transaction) { t.Target = "/publication/pub.home/home.htm" },
		"method":       func(t *Transaction) { t.Method = "POST" },
		"status":       func(t *Transaction) { t.Status = 200 },
		"protocol":     func(t *Transaction) { t.Proto = "HTTP/1.0" },
		"length":       func(t *Transaction) { t.ResponseBodyLen = 1482 },
		"user-agent":   func(t *Transaction) { t.UserAgent = "curl" },
		"content-type": func(t *Transaction) { t.ContentType = "text/plain" },
		"referer":      func(t *Transaction) { t.Referer = "" },
		"endpoint":     func(t *Transaction) { t.SrcPort = 44271 },
		"tx_id":        func(t *Transaction) {},
	} {
		obs := []Transaction{bug130Tx()}
		mutate(&obs[0])
		if name == "tx_id" { // an earlier transaction on the connection makes ours tx 1
			early := bug130Tx()
			early.Target, early.Start = "/before", obs[0].Start.Add(-1)
			obs = append(obs, early)
		}
		o := hc[0].Eval(obs)
		if o.Status != Fail {
			t.Errorf("bug-130 http check with wrong %s: %v %s", name, o.Status, o.Detail)
		}
	}
	for _, ch := range checksOfKind(c, "suricata/alert") {
		bad := []Transaction{bug130Tx()}
		bad[0].Host = "www.other.com"
		wantStatus(t, ch, bad, Fail)
	}
	// fileinfo: filename is the URI path; size is the decoded length
	fi := checksOfKind(c, "suricata/fileinfo")[0]
	wantStatus(t, fi, good, Pass)
	bad := []Transaction{bug130Tx()}
	bad[0].Target = "/other.html"
	wantStatus(t, fi, bad, Fail)
	bad = []Transaction{bug130Tx()}
	bad[0].ResponseDecodedLen = 10
	wantStatus(t, fi, bad, Fail)
	bad = []Transaction{bug130Tx()}
	bad[0].Truncated = true
	wantStatus(t, fi, bad, Fail)
}

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*` + "\n"

func TestSuricataEvader104FileData(t *testing.T) {
	c := caseNamed(t, "http-evader-104")
	alerts := checksOfKind(c, "suricata/alert")
	if len(alerts) != 2 {
		t.Fatalf("%d evaluable alert checks, want 2", len(alerts))
	}
	r1 := alerts[0].(*suricataCheck).rule
	if r1 == nil || r1.SID != 1 || len(r1.Contents) != 1 || r1.Contents[0].Buffer != "file_data" ||
		string(r1.Contents[0].Pattern) != "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" {
		t.Fatalf("sid 1 parsed as %+v", r1)
	}
	// the commented-out hex form of the same rule
	hexRule, err := ParseRule(`alert http any any -> any any (msg:"EICAR file data"; file_data; content:"|58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a0a|"; sid:1;)`)
	if err != nil || string(hexRule.Contents[0].Pattern) != eicar || hexRule.NotEvaluable != "" {
		t.Fatalf("hex rule: %v %q %q", err, hexRule.Contents[0].Pattern, hexRule.NotEvaluable)
	}

	good := tx("/compressed/eicar.txt/ce%3Agzip;gzip", 200, eicar)
	good.Host = "evader.example.com"
	good.ResponseHeaders = [][2]string{{"Content-Disposition", `attachment; filename="eicar.txt"`}, {"Content-Encoding", "gzip"}}
	good.ResponseBodyLen = 90 // compressed on the wire
	for _, ch := range c.Checks {
		wantStatus(t, ch, []Transaction{good}, Pass)
	}
	hexCheck := &suricataCheck{event: "alert", count: 1, sid: 1, rule: hexRule}
	wantStatus(t, hexCheck, []Transaction{good}, Pass)

	// body not decoded (still gzip): both rules fail, as does the hex form
	bad := good
	bad.ResponseBody, bad.ResponseDecodedLen = []byte("\x1f\x8b\x08\x00garbage"), -1
	for _, ch := range append(alerts, hexCheck) {
		wantStatus(t, ch, []Transaction{bad}, Fail)
	}
	// the EICAR text in the request body only: file_data also inspects
	// request bodies, so the rule still fires; in neither body it does not
	bad = good
	bad.ResponseBody, bad.ResponseDecodedLen, bad.RequestBody, bad.RequestDecodedLen = nil, 0, []byte(eicar), int64(len(eicar))
	wantStatus(t, alerts[0], []Transaction{bad}, Pass)
	bad.RequestBody, bad.RequestDecodedLen = nil, 0
	wantStatus(t, alerts[0], []Transaction{bad}, Fail)
	// fileinfo named by Content-Disposition; without it the file is named by the path
	fi := checksOfKind(c, "suricata/fileinfo")[0]
	bad = good
	bad.ResponseHeaders = nil
	wantStatus(t, fi, []Transaction{bad}, Fail)
	bad = good
	bad.Host = "other.example.com"
	wantStatus(t, fi, []Transaction{bad}, Fail)
}

func TestRuleParsing(t *testing.T) {
	r, err := ParseRule(`alert tcp any any -> any any (msg:"x"; content:"a\;b\"c\\d\:"; nocase; http_uri; content:"|41 42|C"; http_method; sid:7;)`)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Contents[0].Pattern) != `a;b"c\d:` || !r.Contents[0].Nocase || r.Contents[0].Buffer != "uri" {
		t.Errorf("content 0: %+v", r.Contents[0])
	}
	if string(r.Contents[1].Pattern) != "ABC" || r.Contents[1].Buffer != "method" || r.NotEvaluable != "" {
		t.Errorf("content 1: %+v (%s)", r.Contents[1], r.NotEvaluable)
	}
	for _, rule := range []string{
		`alert http any any -> any any (http.uri; pcre:"/x/"; sid:1;)`,
		`alert tcp any any -> any any (content:"GET"; sid:2;)`,
		`alert http any any -> any any (http.uri; content:"a"; from_base64: offset 1; sid:3;)`,
		`alert tcp any any -> any any (stream-event:reassembly_seq_gap; sid:4;)`,
		`alert tls any any -> any any (tls.sni; content:"google"; sid:5;)`,
	} {
		r, err := ParseRule(rule)
		if err != nil || r.NotEvaluable == "" {
			t.Errorf("%s: err %v, evaluable", rule, err)
		}
	}

	// relative matching: sid 2038629 of http-encoding-gzip-uncompressed
	c := caseNamed(t, "http-encoding-gzip-uncompressed")
	ch := checksOfKind(c, "suricata/alert")[0]
	post := tx("/api", 200, "")
	post.Method, post.DstPort = "POST", 8100
	post.RequestBody = []byte(`{"sdk_version":1,"app_package":"a","app_version":"1","device_id":"d"}`)
	wantStatus(t, ch, []Transaction{post}, Pass)
	post.RequestBody = []byte(`{"device_id":"d","sdk_version":1,"app_package":"a","app_version":"1"}`) // out of order
	wantStatus(t, ch, []Transaction{post}, Fail)
	post.RequestBody = []byte(`{"sdk_version":1,"app_package":"a","app_version":"1","device_id":"d"}`)
	post.DstPort = 8080 // header port 8100
	wantStatus(t, ch, []Transaction{post}, Fail)

	// startswith/endswith (security-4710-02: http_uri "/" startswith endswith)
	c = caseNamed(t, "security-4710-02")
	ch = checkWith(t, c, "alert.signature_id=1}")
	wantStatus(t, ch, []Transaction{tx("/", 200, "")}, Pass)
	wantStatus(t, ch, []Transaction{tx("/a", 200, "")}, Fail)

	// count 0: http-post-data-decompression sid 2 must not see "name" in the response body
	c = caseNamed(t, "http-post-data-decompression")
	ch = checkWith(t, c, "alert.signature_id=2}")
	p := tx("/", 200, "ok")
	p.Method, p.RequestBody = "POST", []byte("name=x")
	wantStatus(t, ch, []Transaction{p}, Pass)
	p.ResponseBody = []byte("NAME")
	wantStatus(t, ch, []Transaction{p}, Fail)
}

func TestSuricataFileSHA256AndHeaders(t *testing.T) {
	c := caseNamed(t, "filestore-dont")
	ch := checksOfKind(c, "suricata/fileinfo")[0]
	body := []byte("hello")
	o := tx("/f", 200, string(body))
	wantStatus(t, ch, []Transaction{o}, Fail)
	sc := ch.(*suricataCheck)
	want := sc.fields["fileinfo.sha256"].(string)
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) == want {
		t.Fatal("test body collides with the expected hash")
	}
	// a body captured only in part cannot be hashed: not applicable, not a pass
	o.ResponseDecodedLen = MaxBodyPrefix + 10
	wantStatus(t, ch, []Transaction{o}, NotApplicable)

	c = caseNamed(t, "http-all-headers")
	ch = checkWith(t, c, "http.request_headers[0].name=Host")
	h := tx("/", 200, "")
	h.RequestHeaders = [][2]string{{"Host", "www.ethereal.com"}, {"User-Agent", "x"}}
	wantStatus(t, ch, []Transaction{h}, Pass)
	h.RequestHeaders[0], h.RequestHeaders[1] = h.RequestHeaders[1], h.RequestHeaders[0]
	wantStatus(t, ch, []Transaction{h}, Fail)
}

func TestSuricataNotApplicable(t *testing.T) {
	c := caseNamed(t, "tls13-draft28")
	r := Evaluate(c, nil)
	if r.Applicable() || r.NA != len(c.Checks) {
		t.Errorf("tls13-draft28: %+v", r)
	}
	c = caseNamed(t, "decode-teredo-01")
	reasons := map[string]int{}
	for _, ch := range c.Checks {
		reasons[NAReason(ch)]++
	}
	if reasons["suricata/dns: event_type dns"] == 0 || reasons["suricata/variant: older-version variant"] == 0 ||
		reasons["suricata/flow: event_type flow"] == 0 {
		t.Errorf("decode-teredo-01 reasons: %v", reasons)
	}
}

func TestSuricataPartialBodies(t *testing.T) {
	// http-body-inspect: the content lies past the 64 KiB a Transaction carries
	c := caseNamed(t, "http-body-inspect")
	ch := checkWith(t, c, "alert.signature_id=1")
	o := tx("/manpages-dev_4.04-2_all.deb", 200, strings.Repeat("x", MaxBodyPrefix))
	o.ResponseBodyLen, o.ResponseDecodedLen = 2047608, 2047608
	wantStatus(t, ch, []Transaction{o}, NotApplicable)
	o.ResponseBody = append([]byte("\x60\x5c\xf3\xf0\x29\x2b"), o.ResponseBody[6:]...)
	wantStatus(t, ch, []Transaction{o}, Pass)
	o.ResponseBody, o.ResponseBodyLen, o.ResponseDecodedLen = []byte("short"), 5, 5
	wantStatus(t, ch, []Transaction{o}, Fail)

	// decode-teredo-01: a plain POST body is a file (named by the path)
	c = caseNamed(t, "decode-teredo-01")
	fi := checkWith(t, c, "fileinfo.filename=/cgi-bin/iavs4stats.cgi")
	p := Transaction{SrcIP: "192.168.2.16", SrcPort: 1578, DstIP: "75.126.203.78", DstPort: 80, HasRequest: true, HasResponse: true,
		Method: "POST", Target: "/cgi-bin/iavs4stats.cgi", Host: "download913.avast.com", Proto: "HTTP/1.0",
		UserAgent: "Syncer/4.80 (av_pro-1169;f)", Status: 204, ResponseProto: "HTTP/1.0", ContentType: "text/plain",
		RequestBodyLen: 589, RequestDecodedLen: 589, RequestBody: bytes.Repeat([]byte("p"), 589)}
	wantStatus(t, fi, []Transaction{p}, Pass)
	p.Method = "GET"
	wantStatus(t, fi, []Transaction{p}, Fail)
}
