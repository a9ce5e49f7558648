package http1

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func gz(b []byte) []byte {
	var w bytes.Buffer
	z := gzip.NewWriter(&w)
	z.Write(b)
	z.Close()
	return w.Bytes()
}

func zl(b []byte) []byte {
	var w bytes.Buffer
	z := zlib.NewWriter(&w)
	z.Write(b)
	z.Close()
	return w.Bytes()
}

func rawDeflate(b []byte) []byte {
	var w bytes.Buffer
	z, _ := flate.NewWriter(&w, 5)
	z.Write(b)
	z.Close()
	return w.Bytes()
}

func br(b []byte) []byte {
	var w bytes.Buffer
	z := brotli.NewWriter(&w)
	z.Write(b)
	z.Close()
	return w.Bytes()
}

func response(headers string, body []byte) string {
	return "HTTP/1.1 200 OK\r\n" + headers + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
}

func TestDecode(t *testing.T) {
	plain := []byte(`{"users":[{"id":1,"email":"a@example.com"},{"id":2,"email":"b@example.com"}]}`)
	n := len(plain)
	f := func(headers string, body []byte, flags string) {
		t.Helper()
		want := `200 HTTP/1.1 h=2 wire=` + strconv.Itoa(len(body)) + ` len=` + strconv.Itoa(len(body)) + ` dec=` + strconv.Itoa(n) + ` body="{\"users\":[{\"id\":1,\"email\":\"a@example.com..." [` + flags + `]`
		check(t, nil, "GET", response(headers, body), KindResponse, want)
	}
	f("Content-Encoding: gzip\r\n", gz(plain), "")
	f("Content-Encoding: x-gzip\r\n", gz(plain), "")
	f("Content-Encoding: deflate\r\n", zl(plain), "")
	f("Content-Encoding: deflate\r\n", rawDeflate(plain), "")
	f("Content-Encoding: br\r\n", br(plain), "")
	f("Content-Encoding: gzip, gzip\r\n", gz(gz(plain)), "")
	f("Content-Encoding: gzip, br\r\n", br(gz(plain)), "")
	f("Content-Encoding: identity, GZIP\r\n", gz(plain), "")

	// Transfer-Encoding gzip stacked over Content-Encoding deflate, chunked
	enc := gz(zl(plain))
	chunked := strconv.FormatInt(int64(len(enc)), 16) + "\r\n" + string(enc) + "\r\n0\r\n\r\n"
	check(t, nil, "GET", "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"+chunked, KindResponse,
		`200 HTTP/1.1 h=2 wire=`+strconv.Itoa(len(chunked))+` len=`+strconv.Itoa(len(enc))+` dec=`+strconv.Itoa(n)+` body="{\"users\":[{\"id\":1,\"email\":\"a@example.com..." [chunked]`)

	// unknown coding: raw bytes kept, DecodedLen -1
	check(t, nil, "GET", response("Content-Encoding: compress\r\n", []byte("rawbytes")), KindResponse,
		`200 HTTP/1.1 h=2 wire=8 len=8 dec=-1 body="rawbytes" [decerr]`)
	// too many layers
	check(t, nil, "GET", response("Content-Encoding: gzip,gzip,gzip,gzip,gzip\r\n", []byte("x")), KindResponse,
		`200 HTTP/1.1 h=2 wire=1 len=1 dec=-1 body="x" [decerr]`)
	// corrupt gzip: nothing decodes, raw kept
	check(t, nil, "GET", response("Content-Encoding: gzip\r\n", []byte("not gzip at all")), KindResponse,
		`200 HTTP/1.1 h=2 wire=15 len=15 dec=-1 body="not gzip at all" [decerr]`)
	// truncated gzip: what decodes before the cut is kept
	big := bytes.Repeat(plain, 100)
	cut := gz(big)
	cut = cut[:len(cut)/2]
	r := &recorder{method: []byte("GET")}
	p := NewParser(nil, r)
	p.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 100000\r\n\r\n"), 1)
	p.Feed(cut, 2)
	p.Close(3)
	if m := &r.msgs[0]; m.Flags != FlagTruncated || m.DecodedLen <= 0 || !bytes.HasPrefix(big, m.Body) {
		t.Fatalf("truncated gzip: %s", summary(m))
	}
}

// TestDecompressionBomb checks a bomb costs at most the caps.
func TestDecompressionBomb(t *testing.T) {
	bomb := gz(make([]byte, 50<<20))
	cfg := &Config{MaxDecodedBytes: 1 << 20, BodyKeep: 1000}
	check(t, cfg, "GET", response("Content-Encoding: gzip\r\n", bomb), KindResponse,
		`200 HTTP/1.1 h=2 wire=`+strconv.Itoa(len(bomb))+` len=`+strconv.Itoa(len(bomb))+` dec=1048576 body="`+strings.Repeat(`\x00`, 40)+`..." [bodycap]`)
	// the ratio cap: a small bomb under MaxDecodedBytes but over 100x
	small := gz(make([]byte, 500<<10))
	limit := 100 * max(len(small), minRatioBase)
	check(t, nil, "GET", response("Content-Encoding: gzip\r\n", small), KindResponse,
		`200 HTTP/1.1 h=2 wire=`+strconv.Itoa(len(small))+` len=`+strconv.Itoa(len(small))+` dec=`+strconv.Itoa(limit)+` body="`+strings.Repeat(`\x00`, 40)+`..." [bodycap]`)
}

// TestRequestBodyDecoded covers suricata's http-post-data-decompression.
func TestRequestBodyDecoded(t *testing.T) {
	body := gz([]byte("user=admin&pass=secret"))
	check(t, nil, "", "POST /login HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+string(body), KindRequest,
		`POST /login HTTP/1.1 h=2 wire=`+strconv.Itoa(len(body))+` len=`+strconv.Itoa(len(body))+` dec=22 body="user=admin&pass=secret" []`)
}

func TestDecodeWarmAllocs(t *testing.T) {
	body := gz(bytes.Repeat([]byte(`{"a":1},`), 1000))
	msg := []byte(response("Content-Encoding: gzip\r\n", body))
	r := &recorder{method: []byte("GET")}
	p := NewParser(nil, r)
	h := nopHandler{}
	p.Init(nil, h)
	p.Feed(msg, 1)
	allocs := testing.AllocsPerRun(50, func() { p.Feed(msg, 1) })
	if allocs != 0 {
		t.Fatalf("warm gzip message allocates %v times", allocs)
	}
}

// TestTransferEncodingGzip: a response with a transfer coding but no
// chunked runs to the close, and the coding is undone.
func TestTransferEncodingGzip(t *testing.T) {
	body := gz([]byte("hello transfer coding"))
	check(t, nil, "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"+string(body), KindResponse,
		`200 HTTP/1.1 h=1 wire=`+strconv.Itoa(len(body))+` len=`+strconv.Itoa(len(body))+` dec=21 body="hello transfer coding" [close]`)
}

func TestHeaderNoAlloc(t *testing.T) {
	m := &Message{Headers: []Header{{Name: []byte("Host"), Value: []byte("a")}, {Name: []byte("Content-Type"), Value: []byte("json")}}}
	if n := testing.AllocsPerRun(100, func() { m.Header("content-type") }); n != 0 {
		t.Fatalf("Header allocates %v", n)
	}
}
