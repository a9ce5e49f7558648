package http1

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// pair runs a request stream and a response stream through two Parsers
// sharing a method queue, as the Tracker does: interleaved in the given
// order (each step is "q:" or "r:" and bytes), the request side closed
// first.
func pair(t *testing.T, steps ...string) (*recorder, *recorder, *Parser, *Parser) {
	t.Helper()
	var q [][]byte
	rq := &recorder{queue: &q, t: t, checkCf: &Config{}}
	rs := &recorder{queue: &q, t: t, checkCf: &Config{}}
	pq, pr := NewParser(nil, rq), NewParser(nil, rs)
	for i, s := range steps {
		p := pq
		if strings.HasPrefix(s, "r:") {
			p = pr
		}
		p.Feed([]byte(s[2:]), int64(i+1))
	}
	pq.Close(100)
	pr.Close(100)
	return rq, rs, pq, pr
}

// suricata-verify bug-3844 / bug-4702-01: "GET /" with no line end, a raw
// answer, then a RST.
func TestHTTP09UnterminatedRequest(t *testing.T) {
	for _, resp := range [][]string{{"r:<html>hi</html>"}, {"r:<html>", "r:hi</html>"}} {
		rq, rs, pq, pr := pair(t, append([]string{"q:GET /"}, resp...)...)
		if got := summaries(rq); len(got) != 1 || got[0] != `GET /  h=0 wire=0 len=0 dec=0 body="" [trunc,09]` {
			t.Fatalf("request: %q", got)
		}
		if got := summaries(rs); len(got) != 1 || got[0] != `0  h=0 wire=15 len=15 dec=15 body="<html>hi</html>" [close,09]` {
			t.Fatalf("response: %q", got)
		}
		if pq.Kind() != KindRequest || pr.Kind() != KindResponse {
			t.Fatalf("kinds %d %d", pq.Kind(), pr.Kind())
		}
	}
	// Without a request, the same bytes are not HTTP.
	_, rs, _, pr := pair(t, "r:<html>hi</html>")
	if len(rs.msgs) != 0 || pr.Kind() != KindNotHTTP {
		t.Fatalf("lone response: %q kind %d", summaries(rs), pr.Kind())
	}
}

// suricata-verify http-not09: a request line without version, then header
// lines (one without a colon), LF only: HTTP/1.0 missing its version.
func TestVersionlessRequestWithHeaders(t *testing.T) {
	in := "GET /\nFakeHeader\nHost: localhost\nUser-Agent: myscript\n\n"
	check(t, nil, "", in, KindRequest, `GET /  h=2 wire=0 len=0 dec=0 body="" [perr]`)
	r := &recorder{}
	p := NewParser(nil, r)
	p.Feed([]byte(in[:6]), 1) // "GET /\n" alone: undecided until more comes
	p.Feed([]byte(in[6:]), 2)
	if len(r.msgs) != 1 || string(r.msgs[0].Header("user-agent")) != "myscript" || len(r.heads) != 1 ||
		p.Stats().BadHeaders != 1 {
		t.Fatalf("%q heads %q stats %+v", summaries(r), r.heads, p.Stats())
	}
}

// suricata-verify http-connect-simple / -fragmented: plain HTTP inside an
// accepted CONNECT tunnel is parsed as HTTP.
func TestCONNECTCarryingHTTP(t *testing.T) {
	rq, rs, pq, pr := pair(t,
		"q:CONNECT abc:443 HTTP/1.1\r\nUser-Agent: Victor/1.0\r\n\r\n\n",
		"r:HTTP/1.1 200 OK\r\nServer: VictorServer/1.0\r\n\r\n\n",
		"q:GET / HTTP/1.1\r\nUser-Agent: Victor/1.0\r\n\r\n\n",
		"r:HTTP/1.1 200 OK\r\nServer: VictorServer/1.0\r\n\r\n")
	want := []string{
		`CONNECT abc:443 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`,
		`GET / HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`,
	}
	if got := summaries(rq); !sameStrings(got, want) || pq.Kind() != KindRequest {
		t.Fatalf("requests %q kind %d", got, pq.Kind())
	}
	want = []string{
		`200 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [upgrade]`,
		`200 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [close]`,
	}
	if got := summaries(rs); !sameStrings(got, want) || pr.Kind() != KindResponse {
		t.Fatalf("responses %q kind %d", got, pr.Kind())
	}
	// Fragmented: the tunnelled request line arrives in pieces.
	rq, _, _, _ = pair(t, "q:CONNECT abc:443 HTTP/1.1\r\n\r\n", "r:HTTP/1.1 200 OK\r\n\r\n", "q:GE", "q:T / HT", "q:TP/1.1\r\n\r\n")
	if len(rq.msgs) != 2 || string(rq.msgs[1].Method) != "GET" {
		t.Fatalf("fragmented: %q", summaries(rq))
	}
	// A refused CONNECT: pipelined requests after it are still HTTP.
	rq, rs, _, _ = pair(t, "q:CONNECT a:443 HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
		"r:HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
	if len(rq.msgs) != 2 || len(rs.msgs) != 2 || rs.msgs[1].BodyLen != 1 {
		t.Fatalf("refused: %q %q", summaries(rq), summaries(rs))
	}
	// TLS through the tunnel: both sides become a tunnel at once.
	_, _, pq, pr = pair(t, "q:CONNECT a:443 HTTP/1.1\r\n\r\n", "r:HTTP/1.1 200 Connection established\r\n\r\n",
		"q:\x16\x03\x01\x02\x00\x01", "r:\x16\x03\x03\x00\x10")
	if pq.Kind() != KindTunnel || pr.Kind() != KindTunnel {
		t.Fatalf("TLS tunnel kinds %d %d", pq.Kind(), pr.Kind())
	}
	// WebSocket after a 101: frames are no start line.
	check(t, nil, "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", KindTunnel,
		`101 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [upgrade]`)
	// h2c stays a tunnel even if the bytes looked like HTTP/1.
	check(t, nil, "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", KindTunnel,
		`101 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" [upgrade]`)
}

// Arkime socks-http-example and socks5-http-302-frag: a SOCKS handshake
// (binary, no line end of its own) precedes the start line on each side.
func TestStartLineAfterBinaryPrefix(t *testing.T) {
	// SOCKS4: the request, then the server's grant (with a 0x0a byte).
	check(t, nil, "", "\x04\x01\x00P]\xb8\xd8w\x00GET / HTTP/1.1\r\nUser-Agent: curl/7.24.0\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n", KindRequest,
		`GET / HTTP/1.1 h=3 wire=0 len=0 dec=0 body="" []`)
	check(t, nil, "", "\x00Z\xdf\xb2\n\xb4\x9c\xf9HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", KindResponse,
		`200 HTTP/1.1 h=1 wire=2 len=2 dec=2 body="hi" []`)
	// SOCKS5: the port 80 ("\x00P") is glued to the method.
	check(t, nil, "", "\x05\x01\x00\x05\x01\x00\x03\x0ewww.google.com\x00PGET / HTTP/1.1\r\nHost: www.google.com\r\n\r\n", KindRequest,
		`GET / HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	check(t, nil, "", "\x05\x00\x05\x00\x00\x01\n\x00\x00\x02\x00PHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", KindResponse,
		`302 HTTP/1.1 h=1 wire=0 len=0 dec=0 body="" []`)
	// No false positives: an unknown method after binary, a version that
	// is not HTTP/1.x, a status line without a code.
	for _, in := range []string{
		"\x05\x01\x00XYZZY / HTTP/1.1\r\n\r\n",
		"\x05\x01\x00GET / HTTP/2.0\r\n\r\n",
		"\x05\x00HTTP/1.1 OK\r\n\r\n",
		"\x05\x01\x00GET /a b HTTP/1.1\r\n\r\n",
	} {
		check(t, nil, "", in, KindNotHTTP)
	}
	// The search is bounded: a start line after 4 KiB of binary is not found.
	check(t, nil, "", strings.Repeat("\x01", detectBound)+"GET / HTTP/1.1\r\n\r\n", KindNotHTTP)
}

// suricata-verify http-gap-beyond-body / http-gap-whole-body: a gap that
// swallows the end of a Content-Length body and more.
func TestGapBeyondBody(t *testing.T) {
	r := &recorder{method: []byte("GET"), t: t, checkCf: &Config{}}
	p := NewParser(nil, r)
	p.Feed([]byte("HTTP/1.0 200 OK\r\nServer: Apache\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n"), 1)
	p.Gap(127, 2) // the 12 body bytes, CRLF, and the next response's head
	for i := 0; i < 4; i++ {
		p.Feed([]byte("AAAAAAAAAAAAAA"), int64(3+i))
	}
	p.Feed([]byte("\r\nHTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nHello People"), 9)
	p.Close(10)
	want := []string{
		`200 HTTP/1.0 h=3 wire=12 len=12 dec=12 body="" [gap]`,
		`200 HTTP/1.0 h=1 wire=12 len=12 dec=12 body="Hello People" []`,
	}
	if got := summaries(r); !sameStrings(got, want) {
		t.Fatalf("got %q", got)
	}
	// An encoded body: BodyLen counts the lost bytes, DecodedLen only
	// what was decoded before the hole.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Repeat("hello gzip ", 200)))
	zw.Close()
	r.msgs = r.msgs[:0]
	p.Reset()
	p.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "+itoa(gz.Len())+"\r\n\r\n"), 1)
	p.Feed(gz.Bytes()[:10], 2)
	p.Gap(gz.Len()-10+50, 3)
	p.Close(4)
	if len(r.msgs) != 1 || r.msgs[0].BodyLen != int64(gz.Len()) || r.msgs[0].DecodedLen != 0 || r.msgs[0].Flags&FlagGap == 0 {
		t.Fatalf("gzip: %q", summaries(r))
	}
	// A gap past a chunk's data: its bytes count, the message is truncated.
	r.msgs = r.msgs[:0]
	p.Reset()
	p.Feed([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), 1)
	p.Gap(20, 2)
	p.Close(3)
	if got := summaries(r); len(got) != 1 || got[0] != `200 HTTP/1.1 h=1 wire=8 len=5 dec=5 body="ab" [gap,trunc,chunked]` {
		t.Fatalf("chunked: %q", got)
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// TestBodyMemoryBudget: Parsers sharing a Pool keep bodies only within its
// budget, give buffers back when a message is reported, and keep no large
// buffer between messages.
func TestBodyMemoryBudget(t *testing.T) {
	pool := NewPool(64 << 10)
	cfg := &Config{Pool: pool}
	r1, r2 := &recorder{method: []byte("GET")}, &recorder{method: []byte("GET")}
	p1, p2 := NewParser(cfg, r1), NewParser(cfg, r2)
	big := strings.Repeat("x", 60<<10)
	head := "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(big)) + "\r\n\r\n"
	p1.Feed([]byte(head+big[:40<<10]), 1) // p1 holds a 64 KiB buffer
	p2.Feed([]byte(head+big), 2)          // nothing left for p2
	p1.Feed([]byte(big[40<<10:]), 3)
	if len(r1.msgs) != 1 || len(r1.msgs[0].Body) != len(big) || r1.msgs[0].Flags&FlagBodyNotKept != 0 {
		t.Fatalf("p1: %q", summaries(r1))
	}
	m := r2.msgs[0]
	if m.BodyLen != int64(len(big)) || m.Flags&FlagBodyNotKept == 0 || p2.Stats().BodyNotKept != 1 {
		t.Fatalf("p2: %q", summaries(r2))
	}
	if s := pool.Stats(); s.InUse != 0 || s.Live > 64<<10 {
		t.Fatalf("after the messages: %+v", s)
	}
	// A head over 4 KiB borrows from the Pool and gives it back.
	p2.Feed([]byte("HTTP/1.1 204 No Content\r\nX-Big: "+strings.Repeat("h", 8<<10)+"\r\n\r\n"), 4)
	if len(r2.msgs) != 2 || r2.msgs[1].Status != 204 || cap(p2.head) > headKeep || pool.Stats().InUse != 0 {
		t.Fatalf("big head: %q cap %d", summaries(r2), cap(p2.head))
	}
}
