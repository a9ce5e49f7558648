package identity

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	proxy := netip.MustParseAddr("10.0.0.5")
	client := netip.MustParseAddr("203.0.113.7")
	cases := []struct {
		name   string
		fwdHdr string
		peer   netip.Addr
		hdrs   []string
		want   string
	}{
		{"no header", "", proxy, nil, "10.0.0.5"},
		{"untrusted peer sending XFF is ignored", "", client, []string{"X-Forwarded-For", "1.1.1.1"}, "203.0.113.7"},
		{"untrusted peer sending Forwarded is ignored", "", client, []string{"Forwarded", "for=1.1.1.1"}, "203.0.113.7"},
		{"trusted proxy appends the client", "", proxy, []string{"X-Forwarded-For", "198.51.100.9"}, "198.51.100.9"},
		{"client prepends fakes, proxy appends the real one", "", proxy,
			[]string{"X-Forwarded-For", "1.2.3.4, 5.6.7.8, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies skipped", "", proxy,
			[]string{"X-Forwarded-For", "6.6.6.6, 198.51.100.9, 10.1.1.1, 10.2.2.2"}, "198.51.100.9"},
		{"client forges a trusted address: still stops at the first untrusted", "", proxy,
			[]string{"X-Forwarded-For", "10.9.9.9, 198.51.100.9"}, "198.51.100.9"},
		{"several XFF headers in order", "", proxy,
			[]string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.9, 10.1.1.1"}, "198.51.100.9"},
		{"ports", "", proxy, []string{"X-Forwarded-For", "198.51.100.9:5678"}, "198.51.100.9"},
		{"IPv6 bracketed with port", "", proxy, []string{"X-Forwarded-For", "[2001:db8::1]:80"}, "2001:db8::1"},
		{"IPv6 bare", "", proxy, []string{"X-Forwarded-For", " 2001:db8::2 "}, "2001:db8::2"},
		{"IPv4-mapped unmapped", "", proxy, []string{"X-Forwarded-For", "::ffff:198.51.100.9"}, "198.51.100.9"},
		{"garbage stops at the last believed", "", proxy,
			[]string{"X-Forwarded-For", "198.51.100.9, nonsense, 10.1.1.1"}, "10.1.1.1"},
		{"unknown stops", "", proxy, []string{"X-Forwarded-For", "unknown"}, "10.0.0.5"},
		{"empty entries skipped", "", proxy, []string{"X-Forwarded-For", "198.51.100.9,, "}, "198.51.100.9"},
		{"trusted IPv6 peer", "", netip.MustParseAddr("fd00::1"), []string{"X-Forwarded-For", "198.51.100.9"}, "198.51.100.9"},
		{"4in6 trusted peer", "", netip.MustParseAddr("::ffff:10.0.0.5"), []string{"X-Forwarded-For", "198.51.100.9"}, "198.51.100.9"},

		{"Forwarded simple", "", proxy, []string{"Forwarded", "for=198.51.100.9;proto=https;by=10.0.0.5"}, "198.51.100.9"},
		{"Forwarded quoted IPv6 with port", "", proxy, []string{"Forwarded", `for="[2001:db8::1]:4711"`}, "2001:db8::1"},
		{"Forwarded list, right-most untrusted", "", proxy,
			[]string{"Forwarded", "for=6.6.6.6, for=198.51.100.9;proto=http, for=10.3.3.3"}, "198.51.100.9"},
		{"Forwarded case-insensitive key, spaces", "", proxy, []string{"Forwarded", "proto=https ; For = 198.51.100.9"}, "198.51.100.9"},
		{"Forwarded obfuscated stops", "", proxy, []string{"Forwarded", "for=198.51.100.9, for=_hidden"}, "10.0.0.5"},
		{"Forwarded obfuscated port ok", "", proxy, []string{"Forwarded", `for="198.51.100.9:_p1"`}, "198.51.100.9"},
		{"Forwarded unknown stops", "", proxy, []string{"Forwarded", "for=unknown"}, "10.0.0.5"},
		{"Forwarded element without for stops", "", proxy, []string{"Forwarded", "for=198.51.100.9, proto=https"}, "10.0.0.5"},
		{"Forwarded quoted comma inside", "", proxy, []string{"Forwarded", `for="a,b", for=198.51.100.9`}, "198.51.100.9"},
		{"auto prefers XFF", "", proxy,
			[]string{"Forwarded", "for=6.6.6.6", "X-Forwarded-For", "198.51.100.9"}, "198.51.100.9"},
		{"configured Forwarded ignores forged XFF", "Forwarded", proxy,
			[]string{"X-Forwarded-For", "6.6.6.6", "Forwarded", "for=198.51.100.9"}, "198.51.100.9"},
		{"configured XFF ignores Forwarded", "X-Forwarded-For", proxy,
			[]string{"Forwarded", "for=6.6.6.6"}, "10.0.0.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newTest(Config{TrustedProxies: trusted, ForwardedHeader: c.fwdHdr})
			got := r.ClientIP(req("GET", "/", "", c.hdrs...), c.peer)
			if got.String() != c.want {
				t.Errorf("got %v, want %s", got, c.want)
			}
		})
	}
}

func TestClientIPNoTrusted(t *testing.T) {
	r := newTest(Config{})
	p := netip.MustParseAddr("10.0.0.5")
	if got := r.ClientIP(req("GET", "/", "", "X-Forwarded-For", "1.2.3.4"), p); got != p {
		t.Errorf("got %v", got)
	}
}

func TestClientIPLongChain(t *testing.T) {
	r := newTest(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	v := ""
	for i := 0; i < 100; i++ {
		v += "10.0.0.1, "
	}
	v += "10.0.0.2"
	// Every hop trusted: the walk ends at the oldest kept entry, a proxy.
	got := r.ClientIP(req("GET", "/", "", "X-Forwarded-For", "198.51.100.1, "+v), netip.MustParseAddr("10.0.0.5"))
	if !got.IsValid() || got.String() == "198.51.100.1" {
		t.Errorf("got %v", got)
	}
}

func TestParseIPv4(t *testing.T) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.", "a.b.c.d", "", "1.2.3.4 ", "10.0.0.300"} {
		a, ok := parseIPv4([]byte(s))
		w, err := netip.ParseAddr(s)
		if ok != (err == nil && w.Is4()) || (ok && a != w) {
			t.Errorf("%q: got %v %v, netip %v %v", s, a, ok, w, err)
		}
	}
}
