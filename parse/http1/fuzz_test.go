package http1

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are handcrafted messages covering each framing path; the
// suricata streams under testdata/streams are added too.
var fuzzSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nA;ext=1\r\n0123456789\r\n0\r\nT: t\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody",
	"HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\nContent-Encoding: deflate, br\n\n5\nhello\n0\n\n",
	"GET / HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"GET /x\r\n",
	"CONNECT a:443 HTTP/1.1\r\n\r\n\x16\x03\x01",
	"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"garbage\x00\x01\nHTTP/1.1 200 OK\r\n\r\n",
}

// FuzzParser feeds arbitrary bytes in arbitrary pieces, with gaps, and
// checks every reported Message keeps its invariants.
func FuzzParser(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint64(0x123456789), "")
		f.Add([]byte(s), uint64(1), "GET")
		f.Add([]byte(s), uint64(7), "HEAD")
	}
	files, _ := filepath.Glob("testdata/streams/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 4096 {
			f.Add(b, uint64(3), "GET")
		}
	}
	cfg := &Config{MaxHeaderBytes: 512, MaxHeaders: 8, BodyKeep: 64, MaxDecodedBytes: 4096, MaxDecodeRatio: 10}
	f.Fuzz(func(t *testing.T, data []byte, cuts uint64, method string) {
		if len(data) > 1<<16 {
			return
		}
		r := &recorder{t: t, checkCf: cfg}
		if method != "" {
			r.method = []byte(method)
		}
		p := NewParser(cfg, r)
		for round := 0; round < 2; round++ {
			p.Reset()
			rest, c := data, cuts
			for len(rest) > 0 {
				n := int(c%13) + 1
				c = c/13 ^ c<<7 + 1
				n = min(n, len(rest))
				if c%29 == 0 {
					p.Gap(n, 1)
				} else {
					p.Feed(rest[:n], 1)
				}
				rest = rest[n:]
			}
			p.Close(2)
			if len(p.head) > cfg.MaxHeaderBytes+maxLineBytes || len(p.line) > maxLineBytes {
				t.Fatalf("buffers grew past caps: head %d line %d", len(p.head), len(p.line))
			}
		}
	})
}

// FuzzDecode runs the content decoder over arbitrary input and codings.
func FuzzDecode(f *testing.F) {
	plain := []byte(`{"a":[1,2,3],"b":"hello hello hello hello"}`)
	f.Add(gz(plain), uint8(0x2))
	f.Add(zl(plain), uint8(0x3))
	f.Add(rawDeflate(plain), uint8(0x3))
	f.Add(br(plain), uint8(0x4))
	f.Add(gz(gz(plain)), uint8(0x22))
	f.Add(gz(make([]byte, 1<<20)), uint8(0x2))
	f.Fuzz(func(t *testing.T, in []byte, layers uint8) {
		var codings []coding
		for l := layers; l != 0 && len(codings) < maxLayers; l >>= 2 {
			codings = append(codings, coding(2+l&3%3))
		}
		var d decoder
		var keep []byte
		const keepMax, limit = 100, 10000
		n, capped, _ := d.run(codings, in, &keep, keepMax, limit)
		if n < 0 || n > limit || len(keep) > keepMax || capped && n != limit {
			t.Fatalf("n=%d capped=%v keep=%d", n, capped, len(keep))
		}
		// Reuse must give the same answer.
		keep2 := keep[:0:0]
		n2, _, _ := d.run(codings, in, &keep2, keepMax, limit)
		if n2 != n || string(keep2) != string(keep) {
			t.Fatalf("reuse differs: %d vs %d", n, n2)
		}
	})
}
