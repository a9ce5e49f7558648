package capture

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func corpusFiles(t testing.TB) []string {
	t.Helper()
	root := sharedpcaps.Root(t)
	var files []string
	for _, pat := range []string{"suricata-verify/*/input.pcap", "other/*/input.pcap", "other/gopacket-pcapng-suite/*/*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no captures under %s", root)
	}
	return files
}

type corpusResult struct {
	stats     Stats
	packets   int
	http      int // TCP segments whose payload holds "HTTP/1."
	truncated bool
}

func decodeFile(t testing.TB, path string) corpusResult {
	t.Helper()
	src, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	defer src.Close()
	d := NewDecoder(DecoderConfig{})
	var res corpusResult
	var p Packet
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if errors.Is(err, ErrTruncated) {
			res.truncated = true
			break
		}
		if err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
		res.packets++
		if d.Decode(data, ci.LinkType, ci.Timestamp, &p) == ResultTCP && bytes.Contains(p.Payload, []byte("HTTP/1.")) {
			res.http++
		}
	}
	res.stats = d.Stats()
	return res
}

// httpCaptures are corpus captures known to carry HTTP/1.x in an
// encapsulation worth proving, with a marker their TCP payloads must contain
// and the VLAN tags (if any) their flows must carry.
var httpCaptures = []struct {
	path   string
	marker string
	vlan   [2]bool // outer, inner tag expected non-zero
}{
	{"suricata-verify/http-ipv6/input.pcap", "HTTP/1.", [2]bool{}},           // NULL link type, IPv6
	{"suricata-verify/security-4710-01/input.pcap", "HTTP/1.", [2]bool{}},    // Linux SLL
	{"suricata-verify/bug-3844/input.pcap", "GET /", [2]bool{true, false}},   // VLAN, HTTP/0.9-style request
	{"suricata-verify/bug-814/input.pcap", "HTTP/1.", [2]bool{true, false}},  // VLAN + IPv6
	{"other/arkime-twovlan/input.pcap", "HTTP/1.", [2]bool{true, true}},      // QinQ
	{"suricata-verify/decode-teredo-01/input.pcap", "HTTP/1.", [2]bool{}},    // Teredo
	{"suricata-verify/bug-4810/input.pcap", "HTTP/1.", [2]bool{}},            // PPPoE, compressed PPP protocol
	{"suricata-verify/decode-chdlc-01/input.pcap", "HTTP/1.", [2]bool{}},     // Cisco HDLC
	{"other/tcpdump-ipv4_tcp_http_xml_tso/input.pcap", "HTTP/1.", [2]bool{}}, // IPv4 total length 0
	{"other/arkime-80211http/input.pcap", "HTTP/1.", [2]bool{}},              // radiotap + 802.11
	{"other/gopacket-test_loopback/input.pcap", "HTTP/1.", [2]bool{}},        // NULL, IPv6
	{"other/arkime-socks5-http-302-frag/input.pcap", "HTTP/1.", [2]bool{}},   // IPv4 fragments
	{"other/arkime-arkime_synthetic/input.pcap", "HTTP/1.", [2]bool{}},       // mixed, MPLS, PPPoE, VLAN
	{"suricata-verify/tcp-rst-unacked-stream-07-http/input.pcap", "GET", [2]bool{true, false}},
}

func TestCorpusHTTP(t *testing.T) {
	corpusFiles(t) // skips or fails when the corpus is missing
	for _, c := range httpCaptures {
		t.Run(c.path, func(t *testing.T) {
			src, err := OpenFile(filepath.Join(sharedpcaps.Root(t), c.path))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			d := NewDecoder(DecoderConfig{})
			var p Packet
			found := 0
			for {
				data, ci, err := src.ReadPacket()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if d.Decode(data, ci.LinkType, ci.Timestamp, &p) != ResultTCP || !bytes.Contains(p.Payload, []byte(c.marker)) {
					continue
				}
				found++
				if got := [2]bool{p.Flow.VLAN[0] != 0, p.Flow.VLAN[1] != 0}; got != c.vlan {
					t.Errorf("flow %v: VLAN tags present %v, want %v", p.Flow, got, c.vlan)
				}
				if !p.Flow.SrcIP.IsValid() || p.Flow.SrcPort == 0 || p.Flow.DstPort == 0 {
					t.Errorf("incomplete flow %v", p.Flow)
				}
			}
			if found == 0 {
				t.Errorf("no TCP payload contains %q; stats %+v", c.marker, d.Stats())
			}
		})
	}
}

// TestCorpus decodes every shared capture: none may fail to read (beyond a
// documented truncation) and none may lose a frame to a drop, since they are
// all well-formed captures of supported encapsulations.
func TestCorpus(t *testing.T) {
	var total Stats
	for _, path := range corpusFiles(t) {
		rel, _ := filepath.Rel(sharedpcaps.Root(t), path)
		t.Run(rel, func(t *testing.T) {
			r := decodeFile(t, path)
			s := r.stats
			total.Add(&s)
			t.Logf("%s packets=%d tcp=%d http=%d udp=%d icmp=%d arp=%d other=%d frag=%d/%d dropped=%d truncated=%v",
				rel, r.packets, s.TCP, r.http, s.SkippedUDP, s.SkippedICMP, s.SkippedARP, s.SkippedOther, s.Reassembled, s.Fragments, s.Dropped(), r.truncated)
			s.EachDrop(func(reason DropReason, n uint64) {
				if n > 0 {
					t.Errorf("%d frames dropped: %s", n, reason)
				}
			})
			if s.Packets != uint64(r.packets) {
				t.Errorf("decoder counted %d packets, read %d", s.Packets, r.packets)
			}
			if !strings.Contains(rel, "pcapng-suite") && s.TCP == 0 {
				t.Errorf("no TCP segment decoded")
			}
		})
	}
	t.Logf("corpus: %d packets, %d TCP segments, %d dropped", total.Packets, total.TCP, total.Dropped())
}

// TestOpenFileFormats covers the reader paths the corpus does not: gzip,
// pcapng with interfaces of different link types, truncation and garbage.
func TestOpenFileFormats(t *testing.T) {
	corpusFiles(t)
	dir := t.TempDir()
	ethPcap := filepath.Join(sharedpcaps.Root(t), "other/gopacket-test_ethernet/input.pcap")
	nullPcap := filepath.Join(sharedpcaps.Root(t), "suricata-verify/http-ipv6/input.pcap")
	raw, err := os.ReadFile(ethPcap)
	if err != nil {
		t.Fatal(err)
	}
	want := decodeFile(t, ethPcap)

	t.Run("gzip", func(t *testing.T) {
		path := filepath.Join(dir, "eth.pcap.gz")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		got := decodeFile(t, path)
		if got.packets != want.packets || got.http != want.http || got.stats.TCP != want.stats.TCP {
			t.Errorf("gzip: %+v, want %+v", got, want)
		}
		src, _ := OpenFile(path)
		defer src.Close()
		for {
			if _, _, err := src.ReadPacket(); err != nil {
				break
			}
		}
		if read, total := src.(Progresser).Progress(); read != total || total != int64(buf.Len()) {
			t.Errorf("progress %d/%d, want %d/%d", read, total, buf.Len(), buf.Len())
		}
	})

	t.Run("pcapng-mixed-links", func(t *testing.T) {
		path := filepath.Join(dir, "mixed.pcapng")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
		if err != nil {
			t.Fatal(err)
		}
		lo, err := w.AddInterface(pcapgo.NgInterface{Name: "lo0", LinkType: layers.LinkTypeNull, SnapLength: 65535})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, in := range []string{ethPcap, nullPcap} {
			src, err := OpenFile(in)
			if err != nil {
				t.Fatal(err)
			}
			for {
				data, ci, err := src.ReadPacket()
				if err != nil {
					break
				}
				gci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ci.Timestamp), CaptureLength: len(data), Length: ci.Length}
				if i == 1 {
					gci.InterfaceIndex = lo
				}
				if err := w.WritePacket(gci, data); err != nil {
					t.Fatal(err)
				}
				n++
			}
			src.Close()
		}
		w.Flush()
		f.Close()
		got := decodeFile(t, path)
		other := decodeFile(t, nullPcap)
		if got.packets != n || got.stats.TCP != want.stats.TCP+other.stats.TCP || got.http != want.http+other.http || got.stats.Dropped() != 0 {
			t.Errorf("pcapng: %d packets, %d tcp, %d http, %d dropped; want %d, %d, %d, 0",
				got.packets, got.stats.TCP, got.http, got.stats.Dropped(), n, want.stats.TCP+other.stats.TCP, want.http+other.http)
		}
	})

	t.Run("truncated", func(t *testing.T) {
		f := func(name string, content []byte, wantPackets int) {
			t.Helper()
			path := filepath.Join(dir, name)
			os.WriteFile(path, content, 0o600)
			src, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				_, _, err = src.ReadPacket()
				if err != nil {
					break
				}
				n++
			}
			src.Close()
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: %v, want ErrTruncated naming the file", name, err)
			}
			if wantPackets >= 0 && n != wantPackets {
				t.Errorf("%s: %d packets before truncation, want %d", name, n, wantPackets)
			}
		}
		ng, err := os.ReadFile(filepath.Join(dir, "mixed.pcapng"))
		if err != nil {
			t.Fatal(err)
		}
		f("cut.pcapng", ng[:len(ng)-10], -1)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		f("cut.pcap.gz", buf.Bytes()[:buf.Len()/2], -1)
		for _, cut := range []int{len(raw) - 1, len(raw) - 30, 24 + 16 + 5} {
			// Cut inside the last packet, every one before it is delivered.
			wantPackets := -1
			if cut > len(raw)-100 {
				wantPackets = want.packets - 1
			}
			f(fmt.Sprintf("cut-%d.pcap", cut), raw[:cut], wantPackets)
		}
	})

	t.Run("not-a-capture", func(t *testing.T) {
		f := func(name string, content []byte, wantErr string) {
			t.Helper()
			path := filepath.Join(dir, name)
			os.WriteFile(path, content, 0o600)
			src, err := OpenFile(path)
			if err == nil {
				src.Close()
				t.Fatalf("%s: no error", name)
			}
			if !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: %v, want it to mention %q and the path", name, err, wantErr)
			}
		}
		f("text", []byte("hello, world\n"), "not a pcap or pcapng file")
		f("empty", nil, "too short")
		f("short-header", raw[:10], "pcap header")
		f("bad-gzip", []byte{0x1f, 0x8b, 0, 0}, "gzip")
		if _, err := OpenFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Errorf("missing file: %v", err)
		}
	})
}
