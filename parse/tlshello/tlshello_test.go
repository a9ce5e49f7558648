package tlshello

import (
	"bytes"
	"crypto/tls"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// chromeExts are the extensions of the JA4 specification's example hello
// (technical_details/JA4.md), in its order, with plausible bodies.
func chromeExts(sni string, alpn ...string) []ext {
	return []ext{
		{0x001b, []byte{2, 0, 2}},
		{0x0000, sniData(sni)},
		{0x0033, []byte{0, 6, 0, 0x1d, 0, 2, 1, 2}},
		{0x0010, alpnData(alpn...)},
		{0x4469, alpnData("h2")},
		{0x0017, nil},
		{0x002d, []byte{1, 1}},
		{0x000d, u16List(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)},
		{0x0005, []byte{1, 0, 0, 0, 0}},
		{0x0023, nil},
		{0x0012, nil},
		{0x002b, versionsData(0x0304, 0x0303)},
		{0xff01, []byte{0}},
		{0x000b, []byte{1, 0}},
		{0x000a, u16List(0x001d, 0x0017, 0x0018)},
		{0x0015, make([]byte, 7)},
	}
}

var chromeCiphers = []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
	0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}

// specJA4 is the JA4 specification's example fingerprint, which
// chromeCiphers and chromeExts reproduce.
const specJA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"

func chromeHello() []byte {
	return records(helloMsg(0x0303, chromeCiphers, chromeExts("api.example.com", "h2", "http/1.1")), 1<<14, 0x0301)
}

func mustParse(t testing.TB, b []byte) *Hello {
	t.Helper()
	var h Hello
	if err := Parse(b, &h); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return &h
}

func TestSpecHashes(t *testing.T) {
	// The hash examples of the JA4 specification.
	for _, c := range []struct{ list, tail []uint16 }{
		{list: chromeCiphers},
		{list: []uint16{0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d, 0x0033, 0x4469, 0xff01},
			tail: []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}},
		{list: []uint16{0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d, 0x0033, 0x4469, 0xff01}},
		{},
	} {
		var h Hello
		var got [12]byte
		list := slices.Sorted(slices.Values(c.list))
		h.hash(got[:], list, c.tail)
		want := map[int]string{15: "8daaf6152771", 14: "e5627efa2ab1", 0: "000000000000"}[len(c.list)]
		if len(c.list) == 14 && c.tail == nil {
			want = "6d807ffa2a79"
		}
		if string(got[:]) != want {
			t.Errorf("hash(%x, %x) = %s, want %s", c.list, c.tail, got, want)
		}
	}
}

func TestSpecExample(t *testing.T) {
	h := mustParse(t, chromeHello())
	if h.JA4 != specJA4 {
		t.Errorf("JA4 = %s, want %s", h.JA4, specJA4)
	}
	const wantRaw = "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
	if r := raw(h); r != wantRaw {
		t.Errorf("JA4_r = %s\nwant    %s", r, wantRaw)
	}
	if h.SNI != "api.example.com" || !slices.Equal(h.ALPN, []string{"h2", "http/1.1"}) || h.Version != tls.VersionTLS13 ||
		h.CipherCount != 15 || h.ExtensionCount != 16 {
		t.Errorf("hello = %+v", h)
	}
}

func TestGREASE(t *testing.T) {
	ciphers := append([]uint16{0x2a2a}, chromeCiphers...)
	ciphers = append(ciphers, 0xfafa)
	exts := append([]ext{{0x0a0a, nil}}, chromeExts("api.example.com", "h2", "http/1.1")...)
	exts = append(exts, ext{0xdada, []byte{0}})
	for i := range exts {
		switch exts[i].typ {
		case 0x002b:
			exts[i].data = versionsData(0x7a7a, 0x0304, 0x0303)
		case 0x000d:
			exts[i].data = u16List(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x1a1a)
		}
	}
	h := mustParse(t, records(helloMsg(0x0303, ciphers, exts), 1<<14, 0x0301))
	if h.JA4 != specJA4 || h.CipherCount != 15 || h.ExtensionCount != 16 || h.Version != tls.VersionTLS13 {
		t.Errorf("with GREASE: %+v, want JA4 %s", h, specJA4)
	}
	// Only 0x?a?a with equal bytes is GREASE.
	for v, want := range map[uint16]bool{0x0a0a: true, 0xfafa: true, 0x1a2a: false, 0x0a1a: false, 0xeaea: true, 0x0a0b: false} {
		if grease(v) != want {
			t.Errorf("grease(%#04x) = %v", v, !want)
		}
	}
}

var ja4Shape = regexp.MustCompile(`^t(13|12|11|10|s3)[di]\d{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)

func goConfigs() map[string]*tls.Config {
	return map[string]*tls.Config{
		"tls13-sni-h2": {ServerName: "api.example.com", NextProtos: []string{"h2", "http/1.1"}},
		"tls13-nosni":  {InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}},
		"tls13-ip":     {ServerName: "192.0.2.7"}, // no SNI for an IP address, no ALPN
		"tls12-sni": {ServerName: "legacy.example.org", MaxVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		"tls12-nosni-noalpn": {InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12},
		"tls11":              {ServerName: "old.example.net", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
	}
}

func TestGoHellos(t *testing.T) {
	for name, cfg := range goConfigs() {
		t.Run(name, func(t *testing.T) {
			b, info := goHello(t, cfg)
			h := mustParse(t, b)
			if !ja4Shape.MatchString(h.JA4) {
				t.Errorf("JA4 %q has not JA4's shape", h.JA4)
			}
			if want := expectedJA4(info); h.JA4 != want {
				t.Errorf("JA4 = %s, want %s (from crypto/tls's reading)", h.JA4, want)
			}
			if h.SNI != info.ServerName {
				t.Errorf("SNI = %q, want %q", h.SNI, info.ServerName)
			}
			if !slices.Equal(h.ALPN, info.SupportedProtos) {
				t.Errorf("ALPN = %q, want %q", h.ALPN, info.SupportedProtos)
			}
			if h.Version != slices.Max(info.SupportedVersions) {
				t.Errorf("Version = %#x, want %#x", h.Version, slices.Max(info.SupportedVersions))
			}
			if h.CipherCount != len(info.CipherSuites) || h.ExtensionCount != len(info.Extensions) {
				t.Errorf("counts %d/%d, want %d/%d", h.CipherCount, h.ExtensionCount, len(info.CipherSuites), len(info.Extensions))
			}
			// What the configuration implies, independently of any parser.
			wantVer := cfg.MaxVersion
			if wantVer == 0 {
				wantVer = tls.VersionTLS13
			}
			if h.Version != wantVer || (h.JA4[3] == 'd') != (cfg.ServerName != "" && cfg.ServerName != "192.0.2.7") {
				t.Errorf("Version %#x JA4 %s for config %s", h.Version, h.JA4, name)
			}
			if len(cfg.NextProtos) == 0 && h.JA4[8:10] != "00" || len(cfg.NextProtos) > 0 && h.JA4[8:10] != string([]byte{cfg.NextProtos[0][0], cfg.NextProtos[0][len(cfg.NextProtos[0])-1]}) {
				t.Errorf("ALPN part of %s for %q", h.JA4, cfg.NextProtos)
			}
			checkSplits(t, b, h)
			checkSplits(t, records(handshakeBytes(t, b), 1, 0x0301), h)
		})
	}
}

// checkSplits checks that every proper prefix of b asks for more and that
// b, and b with bytes after the hello, give want.
func checkSplits(t *testing.T, b []byte, want *Hello) {
	t.Helper()
	var h Hello
	for i := range len(b) {
		if err := Parse(b[:i], &h); err != ErrNeedMore {
			t.Fatalf("prefix %d/%d: %v, want ErrNeedMore", i, len(b), err)
		}
	}
	for _, tail := range [][]byte{nil, {20, 3, 3, 0, 1, 1}, {23, 3, 3, 0x40, 0}, {0x16}} {
		if err := Parse(append(b[:len(b):len(b)], tail...), &h); err != nil {
			t.Fatalf("whole (tail %x): %v", tail, err)
		}
		if !sameHello(&h, want) {
			t.Fatalf("whole (tail %x): %+v, want %+v", tail, h, *want)
		}
	}
}

func sameHello(a, b *Hello) bool {
	return a.SNI == b.SNI && slices.Equal(a.ALPN, b.ALPN) && a.Version == b.Version && a.JA4 == b.JA4 &&
		a.CipherCount == b.CipherCount && a.ExtensionCount == b.ExtensionCount
}

func TestFragmentation(t *testing.T) {
	msg := helloMsg(0x0303, chromeCiphers, chromeExts("frag.example.com", "h2"))
	want := mustParse(t, records(msg, 1<<14, 0x0301))
	for _, size := range []int{1, 2, 3, 4, 5, 7, 100, len(msg) - 1} {
		for _, ver := range []uint16{0x0300, 0x0301, 0x0302, 0x0303, 0x0304} {
			b := records(msg, size, ver)
			var h Hello
			if err := Parse(b, &h); err != nil || !sameHello(&h, want) {
				t.Fatalf("records of %d, version %#x: %v %+v", size, ver, err, h)
			}
		}
	}
	checkSplits(t, records(msg, 1, 0x0303), want)
	checkSplits(t, records(msg, 13, 0x0303), want)
	// Zero-length handshake records between fragments are tolerated.
	b := records(msg[:10], 10, 0x0301)
	b = append(b, typeHandshake, 3, 1, 0, 0)
	b = append(b, records(msg[10:], 1<<14, 0x0301)...)
	if h := mustParse(t, b); !sameHello(h, want) {
		t.Errorf("with an empty record: %+v", h)
	}
}

func TestVersions(t *testing.T) {
	for legacy, code := range map[uint16]string{0x0300: "s3", 0x0301: "10", 0x0302: "11", 0x0303: "12"} {
		msg := helloMsg(legacy, []uint16{0x002f, 0x00ff}, nil) // no extensions at all
		h := mustParse(t, records(msg, 1<<14, legacy))
		want := "t" + code + "i020000_" + refHash("002f,00ff") + "_000000000000"
		if h.JA4 != want || h.Version != legacy || h.ExtensionCount != 0 || h.SNI != "" || len(h.ALPN) != 0 {
			t.Errorf("legacy %#x: %+v, want JA4 %s", legacy, h, want)
		}
	}
	// supported_versions wins over the legacy version; no signature
	// algorithms means no "_" part in the hashed text.
	exts := []ext{{0x002b, versionsData(0x0303, 0x0304, 0x0302)}, {0x000a, u16List(0x001d)}}
	h := mustParse(t, records(helloMsg(0x0303, []uint16{0x1301}, exts), 1<<14, 0x0301))
	if want := "t13i0102" + "00_" + refHash("1301") + "_" + refHash("000a,002b"); h.JA4 != want {
		t.Errorf("JA4 = %s, want %s", h.JA4, want)
	}
	// Unknown versions are "00".
	exts = []ext{{0x002b, versionsData(0x7f17)}}
	if h := mustParse(t, records(helloMsg(0x0303, []uint16{0x1301}, exts), 1<<14, 0x0301)); h.JA4[1:3] != "00" || h.Version != 0x7f17 {
		t.Errorf("draft version: %+v", h)
	}
}

func TestALPNChars(t *testing.T) {
	// The examples of the JA4 specification, and the common protocols.
	for in, want := range map[string]string{
		"h2": "h2", "http/1.1": "h1", "h3": "h3", "x": "xx", "\xab": "ab", "\xab\xcd": "ad",
		"\x30\xab": "3b", "\x30\x31\xab\xcd": "3d", "\x30\xab\xcd\x31": "01", "": "00",
	} {
		exts := []ext{{0x0010, alpnData(in, "h2")}}
		if in == "" {
			exts = []ext{{0x0010, u16List()}} // empty list
		}
		h := mustParse(t, records(helloMsg(0x0303, []uint16{0x1301}, exts), 1<<14, 0x0301))
		if h.JA4[8:10] != want {
			t.Errorf("ALPN %q: %s, want %s", in, h.JA4[8:10], want)
		}
	}
}

func TestNotTLS(t *testing.T) {
	good := chromeHello()
	msg := helloMsg(0x0303, chromeCiphers, chromeExts("api.example.com", "h2"))
	// patch returns msg with the 2 bytes at the offset of marker+delta
	// replaced, in one record.
	patch := func(marker []byte, delta int, v ...byte) []byte {
		m := bytes.Clone(msg)
		i := 0
		if marker != nil {
			i = bytes.Index(m, marker)
		}
		if i < 0 {
			t.Fatalf("marker %x not found", marker)
		}
		copy(m[i+delta:], v)
		return records(m, 1<<14, 0x0301)
	}
	// Offsets in msg: header 4, version 2, random 32, session id 1, ciphers.
	const sidOff = 4 + 2 + 32
	extOff := sidOff + 1 + 2 + 2*len(chromeCiphers) + 2
	extLen := int(msg[extOff])<<8 | int(msg[extOff+1])
	sniExt := []byte{0, 0, 0, byte(len(sniData("api.example.com")))}
	cases := map[string][]byte{
		"http":                   []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"ssh":                    []byte("SSH-2.0-OpenSSH_9.6\r\n"),
		"sslv2":                  {0x80, 0x2e, 0x01, 0x00, 0x02},
		"record type":            {23, 3, 3, 0, 5},
		"record major":           {22, 2},
		"record minor":           {22, 3, 5},
		"record too long":        {22, 3, 1, 0x40, 0x01},
		"server hello":           {22, 3, 3, 0, 4, 2},
		"hello too short":        {22, 3, 1, 0, 4, 1, 0, 0, 10},
		"alert mid-hello":        append(records(msg[:20], 20, 0x0301), 21, 3, 1, 0, 2, 2, 40),
		"legacy version":         patch(nil, 4, 2, 0),
		"session id":             patch(nil, sidOff, 33),
		"odd ciphers":            patch([]byte{0, 30, 0x13, 0x01}, 1, 29),
		"ciphers overrun":        patch([]byte{0, 30, 0x13, 0x01}, 0, 0xff),
		"extensions block +1":    patch(nil, extOff, byte((extLen+1)>>8), byte(extLen+1)),
		"extensions block -1":    patch(nil, extOff, byte((extLen-1)>>8), byte(extLen-1)),
		"sni list length":        patch(sniExt, 4, 0, 0xff),
		"sni name length":        patch(sniExt, 7, 0, 0xff),
		"alpn list length":       patch([]byte{0, 0x10, 0, 5, 0, 3, 2, 'h', '2'}, 4, 0, 4),
		"alpn name length":       patch([]byte{0, 0x10, 0, 5, 0, 3, 2, 'h', '2'}, 6, 3),
		"alpn ext length":        patch([]byte{0, 0x10, 0, 5, 0, 3, 2, 'h', '2'}, 2, 0, 6),
		"versions odd":           patch([]byte{0, 0x2b, 0, 5, 4}, 4, 3),
		"versions length":        patch([]byte{0, 0x2b, 0, 5, 4}, 4, 6),
		"sigalgs length":         patch([]byte{0, 0x0d, 0, 18, 0, 16}, 4, 0, 17),
		"last extension overrun": patch([]byte{0, 0x15, 0, 7}, 2, 0, 8),
	}
	// A hello body cut short inside a complete record.
	cases["body cut short"] = records(setLen(bytes.Clone(msg[:len(msg)-3])), 1<<14, 0x0301)
	// Bytes after the extensions block, inside the hello.
	cases["trailing bytes"] = records(setLen(append(bytes.Clone(msg), 0)), 1<<14, 0x0301)
	for name, b := range cases {
		var h Hello
		h.JA4 = "keep"
		err := Parse(b, &h)
		if strings.HasPrefix(name, "sni") || strings.HasPrefix(name, "alpn") || strings.HasPrefix(name, "versions") ||
			strings.HasPrefix(name, "sigalgs") || strings.HasPrefix(name, "last extension") {
			if err != errExtension {
				t.Errorf("%s: %v, want %v", name, err, errExtension)
			}
		}
		if !errors.Is(err, ErrNotTLS) || errors.Is(err, ErrNeedMore) {
			t.Errorf("%s: %v, want ErrNotTLS", name, err)
		}
		if h.JA4 != "keep" {
			t.Errorf("%s: Hello written on error", name)
		}
	}
	if err := Parse(good, new(Hello)); err != nil {
		t.Fatalf("the unpatched hello: %v", err)
	}
}

// setLen sets a handshake message's length to what follows its header.
func setLen(m []byte) []byte {
	n := len(m) - 4
	m[1], m[2], m[3] = byte(n>>16), byte(n>>8), byte(n)
	return m
}

func TestNeedMoreEarly(t *testing.T) {
	for _, b := range [][]byte{nil, {22}, {22, 3}, {22, 3, 1}, {22, 3, 1, 0}, {22, 3, 1, 2, 0}, {22, 3, 1, 2, 0, 1}} {
		if err := Parse(b, new(Hello)); err != ErrNeedMore {
			t.Errorf("%x: %v, want ErrNeedMore", b, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	// A hello announcing more than can be buffered is given up at once.
	if err := Parse([]byte{22, 3, 1, 0, 4, 1, 0, 0x40, 0}, new(Hello)); !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrNotTLS) {
		t.Errorf("16 KiB hello: %v", err)
	}
	// One that fits but whose records do not: never ErrNeedMore at
	// MaxHelloBytes.
	big := make([]byte, 10000)
	big[0], big[2], big[3] = typeClientHello, byte((len(big)-4)>>8), byte(len(big)-4)
	b := records(big, 1, 0x0301)
	if err := Parse(b[:MaxHelloBytes-1], new(Hello)); err != ErrNeedMore {
		t.Errorf("below the limit: %v", err)
	}
	if err := Parse(b[:MaxHelloBytes], new(Hello)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("at the limit: %v", err)
	}
	// The largest hello that fits in one record is accepted.
	exts := []ext{{0x0015, make([]byte, MaxHelloBytes-5-4-2-32-1-4-2-2-4)}}
	b = records(helloMsg(0x0303, []uint16{0x1301}, exts), 1<<14, 0x0303)
	if len(b) != MaxHelloBytes {
		t.Fatalf("built %d bytes", len(b))
	}
	if err := Parse(b, new(Hello)); err != nil {
		t.Errorf("a hello of exactly MaxHelloBytes: %v", err)
	}
}

func TestReuse(t *testing.T) {
	var h Hello
	a := chromeHello()
	b := records(helloMsg(0x0303, []uint16{0x1301}, []ext{{0x0010, alpnData("spdy/2")}}), 1<<14, 0x0301)
	for range 3 {
		if err := Parse(a, &h); err != nil || h.JA4 != specJA4 || h.SNI != "api.example.com" || len(h.ALPN) != 2 {
			t.Fatalf("a: %v %+v", err, h)
		}
		if err := Parse(b, &h); err != nil || h.SNI != "" || !slices.Equal(h.ALPN, []string{"spdy/2"}) || h.JA4[3] != 'i' {
			t.Fatalf("b: %v %+v", err, h)
		}
	}
	// Reparsing the same hello does not allocate.
	Parse(a, &h)
	if n := testing.AllocsPerRun(100, func() { Parse(a, &h) }); n != 0 {
		t.Errorf("%v allocations reparsing the same hello", n)
	}
	// Neither does asking for more.
	if n := testing.AllocsPerRun(100, func() { Parse(a[:len(a)/2], &h) }); n != 0 {
		t.Errorf("%v allocations on ErrNeedMore", n)
	}
}

func TestALPNBound(t *testing.T) {
	protos := make([]string, 40)
	for i := range protos {
		protos[i] = string(rune('a' + i%26))
	}
	h := mustParse(t, records(helloMsg(0x0303, []uint16{0x1301}, []ext{{0x0010, alpnData(protos...)}}), 1<<14, 0x0301))
	if len(h.ALPN) != MaxALPN || h.ALPN[0] != "a" {
		t.Errorf("ALPN %q", h.ALPN)
	}
}
