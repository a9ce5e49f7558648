package tlshello

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/apiwatch/apiwatch/internal/teststreams"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// The client streams below are read at test time from the shared captures
// (never copied into the repository), decoded with capture and reassembled
// with parse/reassembly.

// clientStreams returns the connections of a shared capture whose client
// sent any bytes.
func clientStreams(t testing.TB, rel string) []*teststreams.Conn {
	t.Helper()
	var out []*teststreams.Conn
	for _, c := range teststreams.Read(t, rel) {
		if len(c.Client()) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// helloEnd returns the end of the record that completes the first
// handshake message, and how many records carry it (the test's own
// reading, trusting lengths).
func helloEnd(b []byte) (end, records int) {
	got, need := 0, -1
	var hs []byte
	for end+5 <= len(b) && (need < 0 || got < need) {
		l := int(b[end+3])<<8 | int(b[end+4])
		hs = append(hs, b[end+5:min(len(b), end+5+l)]...)
		got += l
		records++
		if need < 0 && len(hs) >= 4 {
			need = 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
		}
		end = min(len(b), end+5+l)
	}
	return end, records
}

func TestCorpus(t *testing.T) {
	for _, c := range []struct {
		rel       string
		sni       string
		alpn      string
		ja4, ja4r string // Arkime's expected output, where the capture has one
		segments  int    // TCP segments carrying the hello
	}{{
		// suricata-verify: a ClientHello split across TCP segments;
		// test.yaml expects tls.sni www.google.com, tshark reads ALPN h2.
		// No tool output of JA4 comes with it: this one was computed by
		// hand from tshark 4.0's dissection of the hello.
		rel: "suricata-verify/tls-client-hello-frag-01/input.pcap", sni: "www.google.com", alpn: "h2",
		ja4:      "t12d8008h2_9cedc1f1428b_046e095b7c4a",
		segments: 3,
	}, {
		// Arkime tests/pcap/tls-split-client-hello.test
		rel: "other/arkime-tls-split-client-hello/input.pcap", sni: "clients2.google.com", alpn: "h2", segments: 2,
		ja4:  "t13d1516h2_8daaf6152771_02713d6af862",
		ja4r: "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,4469,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
	}, {
		// Arkime tests/pcap/tls-alpn-h2.test: TLS 1.2, 46 ciphers, SCSV,
		// signature algorithms that look like but are not GREASE.
		rel: "other/arkime-tls-alpn-h2/input.pcap", sni: "www.cloudflare.com", alpn: "h2", segments: 1,
		ja4:  "t12d4605h2_85626a9a5f7f_aaf95bb78ec9",
		ja4r: "t12d4605h2_0004,0005,000a,0016,002f,0033,0035,0039,003c,003d,0041,0045,0067,006b,0081,0084,0088,009c,009d,009e,009f,00ba,00be,00c0,00c4,00ff,c007,c008,c009,c00a,c011,c012,c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa,ff85_000a,000b,000d_0601,0603,efef,0501,0503,0401,0403,eeee,eded,0301,0303,0201,0203",
	}} {
		t.Run(filepath.Base(filepath.Dir(c.rel)), func(t *testing.T) {
			streams := clientStreams(t, c.rel)
			if len(streams) == 0 {
				t.Fatal("no client stream")
			}
			b := streams[0].Client()
			end, nrec := helloEnd(b)
			h := mustParse(t, b)
			t.Logf("%d bytes, hello in %d bytes, %d records: SNI %q ALPN %q version %#x JA4 %s",
				len(b), end, nrec, h.SNI, h.ALPN, h.Version, h.JA4)
			if h.SNI != c.sni || len(h.ALPN) == 0 || h.ALPN[0] != c.alpn {
				t.Errorf("SNI %q ALPN %q, want %q %q", h.SNI, h.ALPN, c.sni, c.alpn)
			}
			if !ja4Shape.MatchString(h.JA4) {
				t.Errorf("JA4 %q has not JA4's shape", h.JA4)
			}
			if c.ja4 != "" && h.JA4 != c.ja4 {
				t.Errorf("JA4 = %s, Arkime says %s", h.JA4, c.ja4)
			}
			if c.ja4r != "" && raw(h) != c.ja4r {
				t.Errorf("JA4_r = %s\nArkime says %s", raw(h), c.ja4r)
			}
			// Fed as the caller will: the reassembled chunks appended one
			// by one, ErrNeedMore until the one that completes the hello.
			var acc []byte
			var h2 Hello
			segs := 0
			for _, n := range streams[0].Chunks[reassembly.ClientToServer] {
				acc = b[:len(acc)+n]
				segs++
				err := Parse(acc, &h2)
				if err == nil {
					break
				}
				if err != ErrNeedMore {
					t.Fatalf("after %d bytes: %v", len(acc), err)
				}
			}
			if !sameHello(h, &h2) || segs != c.segments || len(acc) < end {
				t.Errorf("fed by segment: complete after %d segments (%d bytes), want %d; %+v", segs, len(acc), c.segments, h2)
			}
			// Split at every offset; and re-fragmented into 1-byte
			// records.
			checkSplits(t, b[:end], h)
			checkSplits(t, records(hello(t, b), 1, 0x0303), h)
			if h2 := mustParse(t, records(hello(t, b), 1<<14, 0x0301)); !sameHello(h, h2) {
				t.Errorf("as one record: %+v", h2)
			}
			if !slices.Contains([]uint16{0x0303, 0x0304}, h.Version) {
				t.Errorf("version %#x", h.Version)
			}
		})
	}
}

// hello returns the ClientHello message at the start of a client stream.
func hello(t testing.TB, b []byte) []byte {
	end, _ := helloEnd(b)
	hs := handshakeBytes(t, b[:end])
	n := 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
	return hs[:n]
}
