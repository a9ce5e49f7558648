package tlshello

import (
	"crypto/tls"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	msg := helloMsg(0x0303, chromeCiphers, chromeExts("fuzz.example.com", "h2", "http/1.1"))
	f.Add(records(msg, 1<<14, 0x0301))
	f.Add(records(msg, 7, 0x0303))
	f.Add(records(msg, 1, 0x0300))
	f.Add(records(helloMsg(0x0301, []uint16{0x002f}, nil), 1<<14, 0x0301))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0x40, 0})
	for _, cfg := range []*tls.Config{
		{ServerName: "a.example", NextProtos: []string{"h2"}},
		{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12},
	} {
		b, _ := goHello(f, cfg)
		f.Add(b)
	}
	var h Hello // reused, as callers do
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Parse(b, &h)
		switch {
		case err == nil:
			if len(h.JA4) != 36 || h.JA4[0] != 't' || h.JA4[10] != '_' || h.JA4[23] != '_' || len(h.ALPN) > MaxALPN {
				t.Fatalf("hello %+v", h)
			}
			// Every prefix asks for more or is the whole hello already;
			// more bytes after it change nothing.
			want := h
			want.ALPN = append([]string(nil), h.ALPN...)
			var h2 Hello
			for _, k := range []int{0, 1, 5, len(b) / 2, len(b) - 1} {
				if k < 0 || k > len(b) {
					continue
				}
				if err := Parse(b[:k], &h2); err != ErrNeedMore && !(err == nil && sameHello(&h2, &want)) {
					t.Fatalf("prefix %d: %v", k, err)
				}
			}
			if err := Parse(append(b[:len(b):len(b)], 1, 2, 3), &h2); err != nil || !sameHello(&h2, &want) {
				t.Fatalf("with bytes after: %v %+v", err, h2)
			}
		case err == ErrNeedMore:
			if len(b) >= MaxHelloBytes {
				t.Fatalf("ErrNeedMore at %d bytes", len(b))
			}
		case !errors.Is(err, ErrNotTLS):
			t.Fatalf("error %v", err)
		}
	})
}
