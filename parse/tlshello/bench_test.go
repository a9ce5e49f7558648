package tlshello

import (
	"crypto/tls"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	chrome := chromeHello()
	msg := helloMsg(0x0303, chromeCiphers, chromeExts("api.example.com", "h2", "http/1.1"))
	goTLS13, _ := goHello(b, &tls.Config{ServerName: "api.example.com", NextProtos: []string{"h2", "http/1.1"}})
	other := records(helloMsg(0x0303, chromeCiphers, chromeExts("other.example.com", "http/1.1")), 1<<14, 0x0301)
	for _, c := range []struct {
		name string
		in   [][]byte
		want error
	}{
		{"chrome-like", [][]byte{chrome}, nil},
		{"go-tls13-mlkem", [][]byte{goTLS13}, nil},
		{"records-of-16", [][]byte{records(msg, 16, 0x0301)}, nil},
		{"records-of-1", [][]byte{records(msg, 1, 0x0301)}, nil},
		{"alternating-hosts", [][]byte{chrome, other}, nil}, // a new SNI and JA4 string each time
		{"need-more", [][]byte{chrome[:len(chrome)/2]}, ErrNeedMore},
		{"not-tls", [][]byte{[]byte("GET / HTTP/1.1\r\n")}, errRecord},
	} {
		b.Run(c.name, func(b *testing.B) {
			var h Hello
			b.SetBytes(int64(len(c.in[0])))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := Parse(c.in[i%len(c.in)], &h); err != c.want {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
