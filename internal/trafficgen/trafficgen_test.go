package trafficgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.Size = 3 << 20
	cfg.Conns = 40
	cfg.Clients = 60
	// Over-represent the rarer shapes so a small capture has all of them.
	cfg.IPv6, cfg.VLAN, cfg.Pipeline = 0.25, 0.25, 0.3
	return cfg
}

// stream is one direction of a connection, reassembled.
type stream struct {
	data    []byte
	nextSeq uint32
	synSeen bool
	finSeen bool
}

type connKey struct {
	client, server netip.AddrPort
	vlan           uint16
}

func (k connKey) String() string {
	return k.client.String() + " -> " + k.server.String() + " vlan " + strconv.Itoa(int(k.vlan))
}

type capturedConn struct {
	client, server stream
}

// readBack decodes every packet of a capture with gopacket, checks its
// checksums and reassembles each connection, failing on any gap.
func readBack(t *testing.T, r io.Reader) (map[connKey]*capturedConn, int64) {
	t.Helper()
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	if pr.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", pr.LinkType())
	}
	conns := map[connKey]*capturedConn{}
	var packets int64
	var lastTS int64
	for {
		data, ci, err := pr.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packets++
		if ts := ci.Timestamp.UnixNano(); ts < lastTS {
			t.Fatalf("packet %d: time goes backwards", packets)
		} else {
			lastTS = ts
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("packet %d: %v", packets, el.Error())
		}
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("packet %d: no TCP layer", packets)
		}
		var src, dst netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			if err, res := ip.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad IPv4 checksum", packets)
			}
			tcp.SetNetworkLayerForChecksum(ip)
			src, dst = netip.AddrFrom4([4]byte(ip.SrcIP.To4())), netip.AddrFrom4([4]byte(ip.DstIP.To4()))
		case *layers.IPv6:
			tcp.SetNetworkLayerForChecksum(ip)
			src, dst = netip.AddrFrom16([16]byte(ip.SrcIP)), netip.AddrFrom16([16]byte(ip.DstIP))
		}
		if err, res := tcp.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("packet %d: bad TCP checksum %#04x, want %#04x (%v)", packets, res.Actual, res.Correct, err)
		}
		var vlan uint16
		if d, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
			vlan = d.VLANIdentifier
		}
		sa, da := netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort))
		fromClient := da.Port() == 80 || da.Port() == 8080
		key := connKey{client: sa, server: da, vlan: vlan}
		if !fromClient {
			key = connKey{client: da, server: sa, vlan: vlan}
		}
		if tcp.SYN && !tcp.ACK {
			if _, dup := conns[key]; dup {
				t.Fatalf("packet %d: connection %v reused", packets, key)
			}
			conns[key] = &capturedConn{}
		}
		c := conns[key]
		if c == nil {
			t.Fatalf("packet %d: no SYN for %v", packets, key)
		}
		s := &c.server
		if fromClient {
			s = &c.client
		}
		if len(tcp.Payload) > mssIPv4 {
			t.Fatalf("packet %d: %d bytes of payload, over the MSS", packets, len(tcp.Payload))
		}
		switch {
		case tcp.SYN:
			s.synSeen, s.nextSeq = true, tcp.Seq+1
		case !s.synSeen:
			t.Fatalf("packet %d: data before SYN", packets)
		case len(tcp.Payload) > 0 || tcp.FIN:
			if tcp.Seq != s.nextSeq {
				t.Fatalf("packet %d: seq %d, want %d", packets, tcp.Seq, s.nextSeq)
			}
			if s.finSeen {
				t.Fatalf("packet %d: data after FIN", packets)
			}
			s.data = append(s.data, tcp.Payload...)
			s.nextSeq += uint32(len(tcp.Payload))
			if tcp.FIN {
				s.finSeen = true
				s.nextSeq++
			}
		}
	}
	return conns, packets
}

// parsed counts what net/http finds in the reassembled streams.
type parsed struct {
	requests, responses, chunked, gzip int
	statuses                           map[string]int
}

func parseConn(t *testing.T, key connKey, c *capturedConn, out *parsed) int {
	t.Helper()
	var reqs []*http.Request
	cr := bufio.NewReader(bytes.NewReader(c.client.data))
	for {
		if _, err := cr.Peek(1); err == io.EOF {
			break
		}
		req, err := http.ReadRequest(cr)
		if err != nil {
			t.Fatalf("%v: request %d: %v", key, len(reqs)+1, err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil || (len(body) > 0 && !json.Valid(body)) {
			t.Fatalf("%v: request %d body: %v %q", key, len(reqs)+1, err, body)
		}
		reqs = append(reqs, req)
	}
	sr := bufio.NewReader(bytes.NewReader(c.server.data))
	for i, req := range reqs {
		resp, err := http.ReadResponse(sr, req)
		if err != nil {
			t.Fatalf("%v: response %d: %v", key, i+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%v: response %d body: %v", key, i+1, err)
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			out.gzip++
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%v: response %d: %v", key, i+1, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%v: response %d: gunzip: %v", key, i+1, err)
			}
		}
		if len(body) > 0 && !json.Valid(body) {
			t.Fatalf("%v: response %d: body is not JSON: %.200q", key, i+1, body)
		}
		if len(resp.TransferEncoding) > 0 {
			out.chunked++
		}
		out.statuses[strconv.Itoa(resp.StatusCode)]++
		out.responses++
	}
	if rest, _ := io.ReadAll(sr); len(rest) > 0 {
		t.Fatalf("%v: %d bytes after the last response", key, len(rest))
	}
	out.requests += len(reqs)
	return len(reqs)
}

func TestGenerateReadsBack(t *testing.T) {
	// Through the gzip path, with nanosecond timestamps; TestDeterministic
	// and TestDemoIsReproducible cover plain microsecond pcaps.
	cfg := smallConfig()
	cfg.Nanos = true
	truth, size := readsBack(t, cfg, "small.pcap.gz")
	if size < cfg.Size || size > cfg.Size+cfg.Size/10 {
		t.Errorf("pcap is %d bytes, target %d", size, cfg.Size)
	}
	// The small capture must still exercise every shape a parser meets.
	for what, n := range map[string]int{
		"IPv6 connections": truth.IPv6Connections, "VLAN connections": truth.VLANConnections,
		"pipelined requests": truth.PipelinedRequests, "chunked": truth.Chunked, "gzip": truth.Gzip,
		"bodyless responses": truth.NoBody, "server-closed connections": truth.ServerClosed,
	} {
		if n == 0 {
			t.Errorf("no %s in the small capture", what)
		}
	}
}

// readsBack writes cfg's capture as name (gzip when it ends in .gz), reads
// it back with gopacket and net/http, checks it against the truth, and
// returns the truth and the pcap's size.
func readsBack(t *testing.T, cfg Config, name string) (*Truth, int64) {
	t.Helper()
	name = filepath.Join(t.TempDir(), name)
	truth, err := writeCapture(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	pcap, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(pcap))
	if size != truth.PcapBytes {
		t.Errorf("pcap is %d bytes, truth says %d", size, truth.PcapBytes)
	}
	conns, packets := readBack(t, bytes.NewReader(pcap))

	if packets != truth.Packets {
		t.Errorf("read %d packets, truth says %d", packets, truth.Packets)
	}
	if len(conns) != truth.Connections || len(truth.PerConn) != truth.Connections {
		t.Fatalf("read %d connections, truth says %d", len(conns), truth.Connections)
	}
	got := parsed{statuses: map[string]int{}}
	for _, ct := range truth.PerConn {
		key := connKey{client: netip.MustParseAddrPort(ct.Client), server: netip.MustParseAddrPort(ct.Server), vlan: ct.VLAN}
		c := conns[key]
		if c == nil {
			t.Fatalf("connection %v not in the capture", key)
		}
		if !c.client.finSeen || !c.server.finSeen {
			t.Errorf("%v: not closed in both directions", key)
		}
		if n := parseConn(t, key, c, &got); n != ct.Requests {
			t.Errorf("%v: parsed %d requests, truth says %d", key, n, ct.Requests)
		}
	}
	if got.requests != truth.Requests || got.responses != truth.Responses {
		t.Errorf("parsed %d requests, %d responses; truth says %d, %d", got.requests, got.responses, truth.Requests, truth.Responses)
	}
	if got.chunked != truth.Chunked || got.gzip != truth.Gzip {
		t.Errorf("parsed %d chunked, %d gzip; truth says %d, %d", got.chunked, got.gzip, truth.Chunked, truth.Gzip)
	}
	for code, n := range truth.Statuses {
		if got.statuses[code] != n {
			t.Errorf("status %s: parsed %d, truth says %d", code, got.statuses[code], n)
		}
	}
	t.Logf("%d packets, %d connections, %d requests, %d chunked, %d gzip, %d pipelined", packets, len(conns), got.requests, got.chunked, got.gzip, truth.PipelinedRequests)
	return truth, size
}

// The fast path must produce exactly what gopacket's serializer does.
func TestFrameMatchesGopacket(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, vlan := range []uint16{0, 120} {
			c := &conn{v6: v6, vlan: vlan, flowLabel: 0x12345,
				cli: side{ip: ipv4(10, 20, 0, 7), port: 40000, ttl: 57, ipID: 99, window: 1000, tsOffset: 5},
				srv: side{mac: [6]byte{0x52, 0x54, 0, 10, 0, 10}, ip: ipv4(10, 0, 0, 10), port: 80, ttl: 64, window: 501}}
			if v6 {
				c.cli.ip, c.srv.ip = ipv6(0xfd00, 0x20, 0, 0, 7), ipv6(0xfd00, 0, 0, 1, 0x10)
			}
			payload := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n!") // odd length on purpose
			for _, s := range []seg{
				{t: 1e15, seq: 7, flags: tcpSYN, fromClient: true},
				{t: 1e15 + 5e6, seq: 8, ack: 1001, flags: tcpACK | tcpPSH, n: int32(len(payload)), fromClient: true},
				{t: 1e15 + 6e6, seq: 1001, ack: 8 + uint32(len(payload)), flags: tcpACK},
			} {
				c.cbuf = payload
				cli, srv := c.cli, c.srv
				mine := bytes.Clone(c.frame(make([]byte, 0, maxFrameLen), &s, payload[:s.n]))
				c.cli, c.srv = cli, srv
				theirs := gopacketFrame(t, mine)
				if !bytes.Equal(mine, theirs) {
					t.Errorf("v6=%v vlan=%d flags=%#x:\nmine   %x\ntheirs %x", v6, vlan, s.flags, mine, theirs)
				}
			}
		}
	}
}

// gopacketFrame decodes a frame and re-serializes it with gopacket,
// recomputing lengths and checksums.
func gopacketFrame(t *testing.T, frame []byte) []byte {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	var ls []gopacket.SerializableLayer
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	tcp.Checksum = 0
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			l.Checksum = 0
			tcp.SetNetworkLayerForChecksum(l)
			ls = append(ls, l)
		case *layers.IPv6:
			tcp.SetNetworkLayerForChecksum(l)
			ls = append(ls, l)
		case gopacket.SerializableLayer:
			ls = append(ls, l)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeterministic(t *testing.T) {
	cfg := smallConfig()
	cfg.Size = 512 << 10
	sum := func() [32]byte {
		var b bytes.Buffer
		if _, err := Generate(&b, cfg); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b.Bytes())
	}
	if first, second := sum(), sum(); first != second {
		t.Fatal("same seed, different captures")
	}
}

// The demo capture in testdata must stay what `make demo` produces, so the
// README's numbers and its truth file hold. After a deliberate change to the
// generator, run `make demo` and commit both files.
func TestDemoIsReproducible(t *testing.T) {
	const demo = "../../testdata/demo.pcap.gz"
	f, err := os.Open(demo)
	if err != nil {
		t.Skipf("no demo capture: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seed, cfg.Size = 1, 2<<20 // as in the Makefile's demo target
	var fresh bytes.Buffer
	truth, err := Generate(&fresh, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, fresh.Bytes()) {
		t.Fatalf("%s differs from what the generator makes now: run `make demo`", demo)
	}
	want, err := os.ReadFile(demo + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := marshalTruth(truth); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s.truth.json is stale (%v): run `make demo`", demo, err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Size = 32 << 20
	b.SetBytes(cfg.Size)
	for b.Loop() {
		if _, err := Generate(io.Discard, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
