package http1

import (
	"strings"
	"testing"
)

// check feeds input to one Parser in every split, resetting in between to
// prove reuse, and compares the message summaries and the final Kind.
func check(t *testing.T, cfg *Config, method, input string, kind Kind, want ...string) {
	t.Helper()
	r := &recorder{t: t, checkCf: &Config{}}
	if cfg != nil {
		r.checkCf = cfg
	}
	if method != "" {
		r.method = []byte(method)
	}
	p := NewParser(cfg, r)
	for round := 0; round < 2; round++ {
		for i, parts := range splits(input) {
			r.msgs = r.msgs[:0]
			p.Reset()
			run(p, parts)
			got := summaries(r)
			if !sameStrings(got, want) {
				t.Fatalf("round %d split %d (%d parts):\ngot  %q\nwant %q", round, i, len(parts), got, want)
			}
			if p.Kind() != kind {
				t.Fatalf("round %d split %d: kind %d, want %d", round, i, p.Kind(), kind)
			}
		}
	}
}

func TestRequests(t *testing.T) {
	f := func(input string, want ...string) {
		t.Helper()
		check(t, nil, "", input, KindRequest, want...)
	}
	f("GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		`GET / HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	// lower-case method and version, custom and WebDAV methods, LF only
	f("get /x http/1.0\nHost: a\n\n",
		`get /x http/1.0 h=1 wire=0 len=0 dec=0 body="" []`)
	f("QUERY /q HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPROPFIND /d HTTP/1.1\r\n\r\n",
		`QUERY /q HTTP/1.1 h=1 wire=3 len=3 dec=3 body="abc" []`,
		`PROPFIND /d HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// pipelined, stray CRLF between messages, leading zeros in Content-Length
	f("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 005\r\n\r\nhello\r\nGET /3 HTTP/1.1\r\n\r\n",
		`GET /1 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`,
		`POST /2 HTTP/1.1 h=1 wire=5 len=5 dec=5 body="hello" []`,
		`GET /3 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// chunked request with extensions, upper-case hex and trailers
	f("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nA;ext=1\r\n0123456789\r\n1\r\nx\r\n0\r\nTrailer: t\r\n\r\n",
		`POST /c HTTP/1.1 h=1 wire=44 len=11 dec=11 body="0123456789x" [chunked]`)
	// a request without length has no body: the next bytes are a request
	f("POST /n HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n",
		`POST /n HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`,
		`GET /m HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// obsolete line folding
	f("GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\tthree\r\nB: c\r\n\r\n",
		`GET / HTTP/1.1 h=2 wire=0 len=0 dec=0 body="" [fold]`)
	// TE and CL: chunked wins, flagged
	f("POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		`POST / HTTP/1.1 h=2 wire=13 len=3 dec=3 body="abc" [smug,chunked]`)
	// conflicting Content-Lengths: no body trusted, the bytes resync
	f("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcdGET /z HTTP/1.1\r\n\r\n",
		`POST / HTTP/1.1 h=2 wire=0 len=0 dec=0 body="" [perr,smug]`,
		`abcdGET /z HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// equal repeated lengths are fine
	f("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
		`POST / HTTP/1.1 h=1 wire=3 len=3 dec=3 body="abc" []`)
	// overflowing and negative lengths are errors
	f("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		`POST / HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [perr]`)
	f("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		`POST / HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [perr]`,
		`GET / HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// truncated body at Close
	f("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
		`POST / HTTP/1.1 h=1 wire=3 len=3 dec=3 body="abc" [trunc]`)
	// truncated head at Close
	f("GET / HTTP/1.1\r\nHost: a\r\nUser-Ag",
		`GET / HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [trunc]`)
}

func TestCONNECTAndUpgrade(t *testing.T) {
	check(t, nil, "", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00garbage", KindTunnel,
		`CONNECT example.com:443 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	check(t, nil, "CONNECT", "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x10rest", KindTunnel,
		`200 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" [upgrade]`)
	check(t, nil, "CONNECT", "HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno", KindResponse,
		`407 HTTP/1.1 h=1 wire=2 len=2 dec=2 body="no" []`)
	check(t, nil, "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04\x00", KindTunnel,
		`101 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [upgrade]`)
	// h2c: the request keeps its framing, then the preface is a tunnel
	check(t, nil, "", "GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00", KindTunnel,
		`GET / HTTP/1.1 h=2 wire=0 len=0 dec=0 body="" []`)
}

func TestResponses(t *testing.T) {
	f := func(method, input string, want ...string) {
		t.Helper()
		check(t, nil, method, input, KindResponse, want...)
	}
	f("GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		`200 HTTP/1.1 h=1 wire=2 len=2 dec=2 body="hi" []`)
	// close-delimited
	f("GET", "HTTP/1.0 200 OK\r\n\r\nall of it",
		`200 HTTP/1.0 h=0 wire=9 len=9 dec=9 body="all of it" [close]`)
	// HEAD: no body even with Content-Length
	f("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		`200 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`,
		`200 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	// 100-continue twice then the final response to the same request
	r := &recorder{method: []byte("POST")}
	p := NewParser(nil, r)
	p.Feed([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\nfile uploaded successfully\n"), 1)
	if r.asked != 1 || len(r.msgs) != 3 {
		t.Fatalf("asked %d, %d messages", r.asked, len(r.msgs))
	}
	f("POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		`100 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" [interim]`,
		`100 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" [interim]`,
		`200 HTTP/1.1 h=1 wire=2 len=2 dec=2 body="ok" []`)
	// 204 and 304 without framing: no body
	f("GET", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n",
		`204 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`,
		`304 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	// 304 with the cached length and no body: a status line follows
	f("GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		`304 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`,
		`200 HTTP/1.1 h=1 wire=1 len=1 dec=1 body="x" []`)
	// HTTP Evader 447/450/453: 100/204/304 with a body framed by Content-Length
	for _, st := range []string{"100", "204", "304"} {
		f("GET", "HTTP/1.1 "+st+" ok\r\nContent-length: 68\r\n\r\n"+eicar,
			st+` HTTP/1.1 h=1 wire=68 len=68 dec=68 body="X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDA..." [unexpbody]`)
	}
	// chunked response, LF-only, extensions, trailers, bare-LF data ends
	f("GET", "HTTP/1.1 200 OK\nTransfer-Encoding: chUnked\n\n5;a=b\nhello\n0\nX: y\n\n",
		`200 HTTP/1.1 h=1 wire=20 len=5 dec=5 body="hello" [chunked]`)
	// no final chunk: truncated at close (HTTP Evader 098)
	f("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
		`200 HTTP/1.1 h=1 wire=8 len=3 dec=3 body="abc" [trunc,chunked]`)
	// bad chunk size: parse error, resync to the next response
	f("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\nHTTP/1.1 204 No\r\n\r\n",
		`200 HTTP/1.1 h=1 wire=4 len=0 dec=0 body="" [trunc,perr,chunked]`,
		`204 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// chunk size overflowing 2^64
	f("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc",
		`200 HTTP/1.1 h=1 wire=19 len=0 dec=0 body="" [trunc,perr,chunked]`)
	// non-integer status
	f("GET", "HTTP/1.1 abc OK\r\nContent-Length: 1\r\n\r\nx",
		`0 HTTP/1.1 h=1 wire=1 len=1 dec=1 body="x" [perr]`)
	// transfer coding other than chunked: close-delimited (HTTP Evader 173:
	// the body is not really gzip, so the raw bytes are kept)
	f("GET", "HTTP/1.1 200 ok\r\nContent-length: 68\r\nTransfer-Encoding:gzip\r\n\r\n"+eicar,
		`200 HTTP/1.1 h=2 wire=68 len=68 dec=-1 body="X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDA..." [smug,close,decerr]`)
	// HTTP/1.0 chunked (HTTP Evader 041)
	f("GET", "HTTP/1.0 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
		`200 HTTP/1.0 h=1 wire=12 len=2 dec=2 body="ab" [chunked]`)
}

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func TestDetection(t *testing.T) {
	check(t, nil, "", "\x16\x03\x01\x02\x00\x01\x00\x01\xfcGET / HTTP/1.1\r\n", KindNotHTTP)
	check(t, nil, "", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12", KindNotHTTP)
	check(t, nil, "", strings.Repeat("\x00\x01\x02binary\xff", 1000), KindNotHTTP)
	// midstream: the stream starts inside a body
	check(t, nil, "", "ue\"}]}\r\nmore body\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", KindResponse,
		`200 HTTP/1.1 h=1 wire=2 len=2 dec=2 body="ok" []`)
	check(t, nil, "", "\x8b\x00\x10{\"a\":1}\nPOST /api HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", KindRequest,
		`POST /api HTTP/1.1 h=1 wire=2 len=2 dec=2 body="{}" []`)
	// HTTP/0.9 response after any request: no status line (HTTP Evader 266)
	check(t, nil, "GET", eicar, KindResponse,
		`0  h=0 wire=68 len=68 dec=68 body="X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDA..." [close,09]`)
	check(t, nil, "GET", "Hello world\nline two", KindResponse,
		`0  h=0 wire=20 len=20 dec=20 body="Hello world\nline two" [close,09]`)
	// HTTP/0.9 request: a line and nothing else up to the close
	r := &recorder{}
	p := NewParser(nil, r)
	p.Feed([]byte("GET /index.html\r\n"), 1)
	if len(r.msgs) != 0 || len(r.heads) != 1 {
		t.Fatalf("0.9 request reported before the close, or head not announced: %d %q", len(r.msgs), r.heads)
	}
	p.Close(2)
	if got := summaries(r); p.Kind() != KindRequest || len(got) != 1 || got[0] != `GET /index.html  h=0 wire=0 len=0 dec=0 body="" [09]` {
		t.Fatalf("0.9 request: %q", got)
	}
	// A line without version followed by header lines is HTTP/1.0 missing
	// its version, not 0.9 (suricata http-missing-protocol, http-not09).
	r.msgs = r.msgs[:0]
	p.Reset()
	p.Feed([]byte("GET /gen.php?x=1\r\nHost: 5.8.88.25\r\nUser-Agent: myscript\r\n\r\n\r\n"), 1)
	if got := summaries(r); len(got) != 1 || got[0] != `GET /gen.php?x=1  h=2 wire=0 len=0 dec=0 body="" [perr]` {
		t.Fatalf("missing protocol: %q", got)
	}
}

// TestHTTP09BothSides pairs a 0.9 request with its raw response.
func TestHTTP09BothSides(t *testing.T) {
	var q [][]byte
	req := &recorder{queue: &q}
	resp := &recorder{queue: &q}
	pq, pr := NewParser(nil, req), NewParser(nil, resp)
	pq.Feed([]byte("GET /old\r\n"), 1)
	pr.Feed([]byte("<html>hi</html>"), 2)
	pq.Close(3)
	pr.Close(3)
	if got := summaries(resp); len(got) != 1 || got[0] != `0  h=0 wire=15 len=15 dec=15 body="<html>hi</html>" [close,09]` {
		t.Fatalf("%q", got)
	}
	if req.msgs[0].Flags&FlagHTTP09 == 0 {
		t.Fatal("request not 0.9")
	}
}

func TestPipelinedPair(t *testing.T) {
	var q [][]byte
	req, resp := &recorder{queue: &q}, &recorder{queue: &q}
	pq, pr := NewParser(nil, req), NewParser(nil, resp)
	pq.Feed([]byte("GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"), 1)
	pr.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"), 2)
	got := summaries(resp)
	want := []string{
		`200 HTTP/1.1 h=1 wire=1 len=1 dec=1 body="a" []`,
		`200 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`,
		`200 HTTP/1.1 h=1 wire=1 len=1 dec=1 body="c" []`,
	}
	if !sameStrings(got, want) || len(req.heads) != 3 {
		t.Fatalf("%q", got)
	}
}

func TestGaps(t *testing.T) {
	f := func(method string, parts []string, kind Kind, want ...string) {
		t.Helper()
		r := &recorder{method: []byte(method), t: t, checkCf: &Config{}}
		p := NewParser(nil, r)
		for round := 0; round < 2; round++ {
			r.msgs = r.msgs[:0]
			p.Reset()
			for i, s := range parts {
				if strings.HasPrefix(s, "GAP") {
					p.Gap(len(s), int64(i))
					continue
				}
				p.Feed([]byte(s), int64(i))
			}
			p.Close(99)
			if got := summaries(r); !sameStrings(got, want) || p.Kind() != kind {
				t.Fatalf("round %d: kind %d\ngot  %q\nwant %q", round, p.Kind(), got, want)
			}
		}
	}
	// gap inside a Content-Length body: in sync afterwards
	f("GET", []string{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", "GAP", "fghij", "HTTP/1.1 204 No\r\n\r\n"}, KindResponse,
		`200 HTTP/1.1 h=1 wire=10 len=10 dec=10 body="abfghij" [gap]`,
		`204 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
	// gap inside chunk data
	f("GET", []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "GAP", "\r\n0\r\n\r\n"}, KindResponse,
		`200 HTTP/1.1 h=1 wire=15 len=5 dec=5 body="ab" [gap,chunked]`)
	// gap in a head: report truncated, resync on the next status line
	f("GET", []string{"HTTP/1.1 200 OK\r\nContent-Le", "GAPGAP", "ngth: 5\r\n\r\nhello\r\nHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n"}, KindResponse,
		`200 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" [gap,trunc]`,
		`404 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	// gap running past the body end: the body's last 2 bytes were in it
	// (counted, suricata http-gap-beyond-body), then resync
	f("GET", []string{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", "GAPGAPGAP", "P/1.1 200 OK\r\n\r\nxx\r\nHTTP/1.1 201 C\r\nContent-Length: 0\r\n\r\n"}, KindResponse,
		`200 HTTP/1.1 h=1 wire=4 len=4 dec=4 body="ab" [gap]`,
		`201 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	// gap in a close-delimited body: counted
	f("GET", []string{"HTTP/1.0 200 OK\r\n\r\nab", "GAP", "cd"}, KindResponse,
		`200 HTTP/1.0 h=0 wire=7 len=7 dec=7 body="abcd" [gap,close]`)
	// gap at the start (midstream request side)
	f("", []string{"GAP", "x=1&y=2\r\nGET /next HTTP/1.1\r\n\r\n"}, KindRequest,
		`GET /next HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
}

func TestCaps(t *testing.T) {
	cfg := &Config{MaxHeaders: 2, MaxHeaderBytes: 200, BodyKeep: 4}
	check(t, cfg, "", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 6\r\n\r\nabcdef", KindRequest,
		`GET / HTTP/1.1 h=2 wire=6 len=6 dec=6 body="abcd" [hdrcap]`)
	big := "GET / HTTP/1.1\r\n" + strings.Repeat("X-Long: "+strings.Repeat("v", 50)+"\r\n", 5) + "\r\nGET /after HTTP/1.1\r\n\r\n"
	check(t, cfg, "", big, KindRequest,
		`GET / HTTP/1.1 h=2 wire=0 len=0 dec=0 body="" [trunc,perr,hdrcap]`,
		`GET /after HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
}

func TestHeaderAndCopyTo(t *testing.T) {
	r := &recorder{}
	p := NewParser(nil, r)
	p.Feed([]byte("GET /p HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\nContent-Type: json\r\n\r\n"), 5)
	m := &r.msgs[0]
	if string(m.Header("content-type")) != "json" || string(m.Header("HOST")) != "h" || m.Header("nope") != nil {
		t.Fatalf("Header lookups: %q", m.Headers)
	}
	if string(m.Header("x-fold")) != "a b" {
		t.Fatalf("fold: %q", m.Header("x-fold"))
	}
	if m.Start != 5 || m.End != 5 {
		t.Fatalf("times %d %d", m.Start, m.End)
	}
	var dst Message
	m.CopyTo(&dst)
	allocs := testing.AllocsPerRun(100, func() { m.CopyTo(&dst) })
	if allocs != 0 {
		t.Fatalf("warm CopyTo allocates %v", allocs)
	}
	if summary(&dst) != summary(m) || string(dst.Header("host")) != "h" {
		t.Fatal("copy differs")
	}
}

func TestTimestamps(t *testing.T) {
	r := &recorder{method: []byte("GET")}
	p := NewParser(nil, r)
	p.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), 10)
	p.Feed([]byte("cdHTTP/1.1 200"), 20)
	p.Feed([]byte(" OK\r\n\r\nz"), 30)
	p.Close(40)
	if len(r.msgs) != 2 || r.msgs[0].Start != 10 || r.msgs[0].End != 20 || r.msgs[1].Start != 20 || r.msgs[1].End != 30 {
		t.Fatalf("%+v", r.msgs)
	}
}

func TestFramingHeaderBeyondMaxHeaders(t *testing.T) {
	cfg := &Config{MaxHeaders: 1}
	check(t, cfg, "GET", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 204 No\r\n\r\n", KindResponse,
		`200 HTTP/1.1 h=1 wire=3 len=3 dec=3 body="abc" [hdrcap]`,
		`103 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [interim]`,
		`204 HTTP/1.1 h=0 wire=0 len=0 dec=0 body="" []`)
}

func TestStatsAndClose(t *testing.T) {
	r := &recorder{method: []byte("GET")}
	p := NewParser(nil, r)
	p.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\x00\x01junk\r\nHTTP/1.1 204 No\r\n\r\n"), 1)
	p.Gap(10, 2)
	p.Feed([]byte("HTTP/1.1 204 No\r\n\r\n"), 3)
	p.Close(4)
	p.Feed([]byte("HTTP/1.1 204 No\r\n\r\n"), 5) // after Close: ignored
	s := p.Stats()
	want := Stats{Messages: 3, ParseErrors: 1, Gaps: 1, Resyncs: 2, SkippedBytes: 8}
	if s != want || len(r.msgs) != 3 {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
}

// TestWarmNoAllocs proves framing allocates nothing per message once warm.
func TestWarmNoAllocs(t *testing.T) {
	resp := trafficResponses(20, false)
	req := trafficRequests(20)
	p := NewParser(nil, nopHandler{})
	for _, stream := range [][]byte{resp, req} {
		p.Feed(stream, 1)
		allocs := testing.AllocsPerRun(20, func() {
			p.Reset()
			for rest := stream; len(rest) > 0; {
				n := min(1448, len(rest))
				p.Feed(rest[:n], 1)
				rest = rest[n:]
			}
		})
		if allocs != 0 {
			t.Fatalf("warm parse allocates %v per stream", allocs)
		}
	}
}
