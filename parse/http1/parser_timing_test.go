package http1

import (
	"bytes"
	"fmt"
	"math/rand"
	"strconv"
	"testing"
)

// Compare runs with benchstat:
//
//	go test -run='^$' -bench=. -count=10 ./parse/http1/ > new.txt
//	benchstat old.txt new.txt

// jsonBody builds an API-like JSON array of about size bytes.
func jsonBody(rnd *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"user%d","email":"user%d@example.com","active":%v,"score":%d}`,
			rnd.Intn(1e6), i, rnd.Intn(1e5), i%2 == 0, rnd.Intn(1000))
	}
	b.WriteString(`]`)
	return b.Bytes()
}

// trafficResponses builds n keep-alive responses with 1-20 KB JSON bodies:
// a quarter chunked, and gzipped ones when gzipped is set (every other).
func trafficResponses(n int, gzipped bool) []byte {
	rnd := rand.New(rand.NewSource(1))
	var out bytes.Buffer
	for i := 0; i < n; i++ {
		body := jsonBody(rnd, 1000+rnd.Intn(19000))
		hdr := "HTTP/1.1 200 OK\r\nDate: Tue, 24 Nov 2026 08:00:00 GMT\r\nServer: nginx\r\n" +
			"Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n" +
			"X-Request-Id: 5f0c6a1e-8d3b-4b8e-9d41-" + strconv.Itoa(100000+i) + "\r\nVary: Accept-Encoding\r\n"
		if gzipped && i%2 == 0 {
			body = gz(body)
			hdr += "Content-Encoding: gzip\r\n"
		}
		if i%4 == 1 {
			out.WriteString(hdr + "Transfer-Encoding: chunked\r\n\r\n")
			for len(body) > 0 {
				c := min(len(body), 4096)
				fmt.Fprintf(&out, "%x\r\n%s\r\n", c, body[:c])
				body = body[c:]
			}
			out.WriteString("0\r\n\r\n")
			continue
		}
		out.WriteString(hdr + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		out.Write(body)
	}
	return out.Bytes()
}

func trafficRequests(n int) []byte {
	var out bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&out, "GET /v1/users/%d/orders?limit=50&offset=%d HTTP/1.1\r\nHost: api.example.com\r\n"+
			"User-Agent: okhttp/4.12.0\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n"+
			"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc\r\nX-Request-Id: %d\r\n"+
			"Cookie: session=abcdef0123456789\r\nConnection: keep-alive\r\nX-Forwarded-For: 10.0.0.%d\r\n\r\n", i, i*50, i, i%250)
	}
	return out.Bytes()
}

func benchFeed(b *testing.B, stream []byte, seg int) {
	p := NewParser(nil, nopHandler{})
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Reset()
		for rest := stream; len(rest) > 0; {
			n := min(seg, len(rest))
			p.Feed(rest[:n], 1)
			rest = rest[n:]
		}
	}
}

func BenchmarkParseResponses(b *testing.B) {
	plain, gzipped := trafficResponses(200, false), trafficResponses(200, true)
	for _, seg := range []int{1448, 64 << 10} {
		b.Run("identity/seg="+strconv.Itoa(seg), func(b *testing.B) { benchFeed(b, plain, seg) })
		b.Run("gzip/seg="+strconv.Itoa(seg), func(b *testing.B) { benchFeed(b, gzipped, seg) })
	}
}

func BenchmarkParseRequests(b *testing.B) {
	benchFeed(b, trafficRequests(1000), 1448)
}
