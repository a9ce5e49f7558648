package conformance

import "testing"

func TestTcpdump(t *testing.T) {
	c := caseNamed(t, "tcpdump-print-flags")
	if len(c.Checks) != 2 {
		t.Fatalf("%d checks, want a request line and a status line", len(c.Checks))
	}
	o := Transaction{SrcIP: "127.0.0.1", SrcPort: 55920, DstIP: "127.0.0.1", DstPort: 80,
		HasRequest: true, HasResponse: true, Method: "GET", Target: "/", Proto: "HTTP/1.1",
		Status: 200, ResponseProto: "HTTP/1.1"}
	r := Evaluate(c, []Transaction{o})
	if !r.Passed() {
		t.Errorf("print-flags: %s", r.FirstFailure())
	}
	bad := o
	bad.Target = "/index.html"
	wantStatus(t, c.Checks[0], []Transaction{bad}, Fail)
	bad = o
	bad.Status = 304
	wantStatus(t, c.Checks[1], []Transaction{bad}, Fail)

	// -v style: the start line is on the line after "HTTP, length: N"
	c = caseNamed(t, "tcpdump-ipv4_tcp_http_xml_tso")
	ch := c.Checks[0]
	p := Transaction{SrcIP: "30.7.181.121", SrcPort: 39556, DstIP: "199.43.68.163", DstPort: 8080, HasRequest: true,
		Method: "POST", Target: "http://gwm-ml-a2.wsodqa.com//research/module-loader/module-loader.asp?user_id=test", Proto: "HTTP/1.1"}
	wantStatus(t, ch, []Transaction{p}, Pass)
	p.Target = "//research/module-loader/module-loader.asp?user_id=test"
	wantStatus(t, ch, []Transaction{p}, Fail)
	// a response-only capture: the status line alone
	c = caseNamed(t, "tcpdump-ipv4_tcp_http_xml")
	if len(c.Checks) != 1 || c.Checks[0].Kind() != "tcpdump/status-line" {
		t.Errorf("http_xml checks: %v", c.Checks)
	}
}
