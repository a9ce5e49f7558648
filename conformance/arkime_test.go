package conformance

import (
	"crypto/md5"
	"encoding/hex"
	"testing"
)

func uploadTxs() []Transaction {
	mk := func(method, target string) Transaction {
		return Transaction{SrcIP: "192.168.8.97", SrcPort: 11371, DstIP: "192.168.57.14", DstPort: 8080,
			HasRequest: true, HasResponse: true, Method: method, Target: target, Host: "192.168.57.14:8080",
			Proto: "HTTP/1.1", Status: 200, ResponseProto: "HTTP/1.1",
			UserAgent: "Mozilla/5.0 (Windows NT 5.2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/33.0.1750.154 Safari/537.36"}
	}
	return []Transaction{mk("GET", "/fileupload/"), mk("POST", "/fileupload/servlet/UploadHandleServlet"),
		mk("GET", "/fileupload/")}
}

func TestArkimePostUpload(t *testing.T) {
	c := caseNamed(t, "arkime-http-post-upload")
	if len(c.Checks) != 2 || len(checksOfKind(c, "arkime/session")) != 1 || len(checksOfKind(c, "arkime/md5")) != 1 {
		t.Fatalf("want one session and one md5 check, got %d checks", len(c.Checks))
	}
	ch := c.Checks[0]
	wantStatus(t, ch, uploadTxs(), Pass)
	// the same connection seen from the server side
	rev := uploadTxs()
	for i := range rev {
		rev[i].SrcIP, rev[i].DstIP, rev[i].SrcPort, rev[i].DstPort = rev[i].DstIP, rev[i].SrcIP, rev[i].DstPort, rev[i].SrcPort
	}
	wantStatus(t, ch, rev, Pass)

	for name, mutate := range map[string]func([]Transaction) []Transaction{
		"no POST":      func(o []Transaction) []Transaction { return []Transaction{o[0], o[2]} },
		"wrong path":   func(o []Transaction) []Transaction { o[1].Target = "/fileupload/servlet/Other"; return o },
		"wrong status": func(o []Transaction) []Transaction { o[0].Status, o[1].Status, o[2].Status = 500, 500, 500; return o },
		"wrong UA": func(o []Transaction) []Transaction {
			o[0].UserAgent, o[1].UserAgent, o[2].UserAgent = "x", "x", "x"
			return o
		},
		"host w/o port": func(o []Transaction) []Transaction {
			o[0].Host, o[1].Host, o[2].Host = "192.168.57.14", "192.168.57.14", "192.168.57.14"
			return o
		},
		"other conn":      func(o []Transaction) []Transaction { o[0].SrcPort, o[1].SrcPort, o[2].SrcPort = 1, 1, 1; return o },
		"no transactions": func([]Transaction) []Transaction { return nil },
	} {
		o := ch.Eval(mutate(uploadTxs()))
		if o.Status != Fail {
			t.Errorf("%s: %v %s", name, o.Status, o.Detail)
		}
	}
}

func TestArkimeInterimAndSynthetic(t *testing.T) {
	// statuscode [100 404]: the interim 100 is not required
	c := caseNamed(t, "arkime-http-100-continue")
	o := Transaction{SrcIP: "102:304:ef6e:0:586c:40b9:519f:7bae", SrcPort: 61273, DstIP: "102:305:220:1:248:1893:25c8:1946", DstPort: 80,
		HasRequest: true, HasResponse: true, Method: "POST", Target: "/re/abcdefghijklmnopqrstuvwxyz123456",
		Host: "example.com", Status: 404}
	wantStatus(t, c.Checks[0], []Transaction{o}, Pass)
	o.Status = 100
	wantStatus(t, c.Checks[0], []Transaction{o}, Fail)

	// the synthetic mix: TLS/QUIC/SIP/HTTP2 sessions are not applicable,
	// uri carries the query
	c = caseNamed(t, "arkime-arkime_synthetic")
	reasons := map[string]int{}
	for _, ch := range c.Checks {
		reasons[NAReason(ch)]++
	}
	if reasons["arkime/session: non-HTTP session"] != 4 || reasons["arkime/session: HTTP/2 session"] != 1 ||
		reasons["arkime/session: no HTTP fields"] != 2 || reasons[""] != 48 || len(checksOfKind(c, "arkime/session")) != 26 {
		t.Errorf("arkime_synthetic check reasons: %v", reasons)
	}
	ch := checkWith(t, c, "uri=api.example.com/api/search?key1=value1")
	q := Transaction{SrcIP: "10.2.1.100", SrcPort: 55001, DstIP: "10.2.1.1", DstPort: 80, HasRequest: true, HasResponse: true,
		Method: "GET", Target: "/api/search?key1=value1&key2=value2&foo=bar", Host: "api.example.com", Status: 200,
		UserAgent: "Mozilla/5.0 (Test; Enhanced) TestBrowser/2.0"}
	wantStatus(t, ch, []Transaction{q}, Pass)
	q.Target = "/api/search?key1=value1"
	wantStatus(t, ch, []Transaction{q}, Fail)
}

func TestArkimeMD5(t *testing.T) {
	sum := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	sess := arkimeSession{SrcIP: "10.0.0.1", SrcPort: 1, DstIP: "10.0.0.2", DstPort: 80, Protocol: []string{"http", "tcp"},
		Method: []string{"POST"}, MD5: []string{sum("request"), sum("response")}}
	ch := &arkimeMD5Check{buildArkimeCheck(sess).(*arkimeCheck)}
	o := Transaction{SrcIP: "10.0.0.2", SrcPort: 80, DstIP: "10.0.0.1", DstPort: 1, HasRequest: true, HasResponse: true,
		Method: "POST", RequestBody: []byte("request"), RequestBodyLen: 7, ResponseBody: []byte("response"), ResponseBodyLen: 8}
	wantStatus(t, ch, []Transaction{o}, Pass)
	bad := o
	bad.ResponseBody = []byte("responsE")
	wantStatus(t, ch, []Transaction{bad}, Fail)
	// a gzip response carries decoded bytes: its wire md5 is unknowable → not applicable, not pass
	bad.ResponseHeaders = [][2]string{{"Content-Encoding", "gzip"}}
	wantStatus(t, ch, []Transaction{bad}, NotApplicable)
	// a body captured in part likewise
	bad = o
	bad.ResponseBodyLen = 100
	wantStatus(t, ch, []Transaction{bad}, NotApplicable)
	wantStatus(t, ch, nil, Fail)
}
