package trafficgen

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Config says what to generate. The zero value is not useful: start from
// DefaultConfig.
type Config struct {
	Seed     uint64
	Scenario string // one of Scenarios()
	Start    time.Time
	Nanos    bool    // nanosecond timestamps (default microsecond)
	IPv6     float64 // fraction of clients on IPv6
	VLAN     float64 // fraction of connections seen 802.1Q-tagged
	// Rate is requests per second over the whole capture. 0 picks the
	// scenario's default: 4 per connection for "normal", 30 for the actor
	// scenarios.
	Rate float64

	// The "normal" scenario runs until the capture reaches Size.
	Size     int64   // target capture size in bytes (pcap, before any gzip)
	Conns    int     // connections open at once; 0 scales with Size (16 to 500)
	Clients  int     // distinct client hosts
	Pipeline float64 // fraction of connections that pipeline requests

	// The actor scenarios ("benign", "attacks") run for Duration of
	// capture time.
	Duration time.Duration
}

// DefaultConfig is the "normal" scenario at 300 MB, with the actor
// scenarios' duration at 12 minutes.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Size: 300 << 20, Clients: 2000,
		IPv6: 0.1, VLAN: 0.1, Pipeline: 0.1, Scenario: "normal",
		Start:    time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Duration: 12 * time.Minute,
	}
}

// Truth is what the generator wrote, for tests to compare a parser and the
// detectors against.
type Truth struct {
	Generator          string         `json:"generator"`
	Seed               uint64         `json:"seed"`
	Scenario           string         `json:"scenario"`
	Packets            int64          `json:"packets"`
	PcapBytes          int64          `json:"pcap_bytes"`
	FirstPacket        time.Time      `json:"first_packet"`
	LastPacket         time.Time      `json:"last_packet"`
	Connections        int            `json:"connections"`
	IPv6Connections    int            `json:"ipv6_connections"`
	VLANConnections    int            `json:"vlan_connections"`
	ServerClosed       int            `json:"server_closed_connections"`
	Requests           int            `json:"requests"`
	Responses          int            `json:"responses"`
	PipelinedRequests  int            `json:"pipelined_requests"` // requests sent in batches of 2 or more
	Methods            map[string]int `json:"methods"`
	Statuses           map[string]int `json:"statuses"`
	Endpoints          map[string]int `json:"endpoints"` // "GET /api/v1/orders/{uuid}": requests
	Chunked            int            `json:"chunked_responses"`
	Gzip               int            `json:"gzip_responses"`
	NoBody             int            `json:"bodyless_responses"` // HEAD, 204, 304
	ClientPayloadBytes int64          `json:"client_payload_bytes"`
	ServerPayloadBytes int64          `json:"server_payload_bytes"`

	// The actor scenarios label what a detector should and should not
	// flag; "normal" has none of these, and its sidecar none of the keys.
	LearningEnd time.Time `json:"learning_end,omitzero"` // no episode starts before
	Episodes    []Label   `json:"episodes,omitzero"`
	HeavyUsers  []Label   `json:"heavy_users,omitzero"`

	// PerConn lists every connection, for the test; too long for the sidecar.
	PerConn []ConnTruth `json:"-"`
}

// seg is one planned TCP segment; its payload is a slice of the connection's
// stream buffer for that direction.
type seg struct {
	t          int64 // capture time, Unix ns
	seq, ack   uint32
	off, n     int32
	flags      uint8
	fromClient bool
}

type side struct {
	mac       [6]byte
	ip        [16]byte // IPv4 in the last 4 bytes
	port      uint16
	ipID      uint16
	ttl       uint8
	window    uint16
	tsOffset  uint32
	lastTSval uint32
	nextSeq   uint32
}

type server struct {
	name, software string
	mac            [6]byte
	ip4, ip6       [16]byte
	port           uint16
}

// client is a host and the user behind it: one actor, in apiwatch's terms.
type client struct {
	ip       [16]byte
	v6       bool
	nextPort uint16
	ttl      uint8
	ua       uaProfile
	userID   int
	token    string // bearer JWT; empty: none
	session  string // session cookie (browsers only); empty: none
	apiKey   string // X-API-Key; empty: none
	gaID     string
}

type connState uint8

const (
	stNew connState = iota
	stOpen
	stClosed
)

type conn struct {
	id             int
	state          connState
	client         *client
	server         *server
	actor          *actor     // nil in the "normal" scenario
	r              *rand.Rand // draws everything about this connection
	cli, srv       side
	v6             bool
	vlan           uint16
	flowLabel      uint32
	rtt            int64 // client round trip as seen from the capture point
	srvGap, cliGap int64 // time on the wire per full segment
	requestsLeft   int
	pipelined      bool
	truth          int // index in Truth.PerConn

	segs       []seg
	next       int // index of the next seg to emit
	cbuf, sbuf []byte
	planned    int64 // pcap bytes of segs added since the generator last looked
}

func (c *conn) nextTime() int64 { return c.segs[c.next].t }

type connHeap []*conn

func (h connHeap) Len() int { return len(h) }
func (h connHeap) Less(i, j int) bool {
	ti, tj := h[i].nextTime(), h[j].nextTime()
	return ti < tj || ti == tj && h[i].id < h[j].id
}
func (h connHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *connHeap) Push(x any)   { *h = append(*h, x.(*conn)) }
func (h *connHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

type generator struct {
	cfg      Config
	r        *rand.Rand
	scenario scenario
	pool     *bodyPool
	servers  []server
	active   connHeap
	free     []*conn // finished connections, reused for their buffers
	reqs     [4]request
	out      *pcapgo.Writer
	frame    []byte
	truth    Truth
	labels   []*label
	stopping bool
	// Generation stops starting requests once the pcap reaches limit
	// bytes or capture time reaches end, whichever the scenario uses.
	limit, end int64
	pending    int64 // pcap bytes planned but not yet written
	nextID     int
}

// Generate writes a pcap of cfg's traffic to w and returns what it wrote.
func Generate(w io.Writer, cfg Config) (*Truth, error) {
	newScenario, ok := scenarios[cfg.Scenario]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (want one of %s)", cfg.Scenario, strings.Join(Scenarios(), ", "))
	}
	g := &generator{
		cfg:   cfg,
		r:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		frame: make([]byte, 0, maxFrameLen),
		limit: math.MaxInt64, end: math.MaxInt64,
		truth: Truth{
			Generator: "gencap", Seed: cfg.Seed, Scenario: cfg.Scenario,
			Methods: map[string]int{}, Statuses: map[string]int{}, Endpoints: map[string]int{},
		},
	}
	var err error
	if g.scenario, err = newScenario(g); err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if g.cfg.Nanos {
		g.out = pcapgo.NewWriterNanos(bw)
	} else {
		g.out = pcapgo.NewWriter(bw)
	}
	if err := g.out.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	g.truth.PcapBytes = 24
	g.pool = newBodyPool(g.r)
	g.makeServers()
	g.scenario.open(g)
	if err := g.run(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	g.labelTruth()
	return &g.truth, nil
}

// Scenarios names the traffic mixes Generate knows.
func Scenarios() []string {
	return slices.Sorted(maps.Keys(scenarios))
}

func (g *generator) makeServers() {
	g.servers = []server{
		{name: "api.example.com", software: "nginx/1.24.0", port: 80},
		{name: "api.example.com", software: "nginx/1.24.0", port: 80},
		{name: "shop.example.com", software: "envoy", port: 8080},
		{name: "auth.example.com", software: "Apache/2.4.59 (Debian)", port: 80},
	}
	for i := range g.servers {
		s := &g.servers[i]
		s.mac = [6]byte{0x52, 0x54, 0x00, 0x0a, 0x00, byte(10 + i)}
		s.ip4 = ipv4(10, 0, 0, byte(10+i))
		s.ip6 = ipv6(0xfd00, 0, 0, 1, uint16(0x10+i))
	}
}

// uaOf picks a client's user agent and the TTL its operating system
// starts from.
func uaOf(r *rand.Rand, profiles []uaProfile) (uaProfile, uint8) {
	weights := make([]int, len(profiles))
	for i, p := range profiles {
		weights[i] = p.weight
	}
	ua := profiles[weighted(r, weights)]
	ttl := 64 - uint8(2+r.IntN(10))
	if ua.name == "browser" {
		ttl = 128 - uint8(2+r.IntN(10)) // Windows
	}
	return ua, ttl
}

func ipv4(a, b, c, d byte) (ip [16]byte) {
	ip[10], ip[11] = 0xff, 0xff
	ip[12], ip[13], ip[14], ip[15] = a, b, c, d
	return ip
}

func ipv6(words ...uint16) (ip [16]byte) {
	// The first words are the prefix, the rest the interface id.
	for i, w := range words[:3] {
		ip[2*i], ip[2*i+1] = byte(w>>8), byte(w)
	}
	for i, w := range words[3:] {
		j := 16 - 2*(len(words)-3) + 2*i
		ip[j], ip[j+1] = byte(w>>8), byte(w)
	}
	return ip
}

// newConn readies a connection from cl to srv, its TCP particulars drawn
// from r; the caller sets how many requests it carries, then launches it.
func (g *generator) newConn(cl *client, srv *server, r *rand.Rand) *conn {
	var c *conn
	if n := len(g.free); n > 0 {
		c, g.free = g.free[n-1], g.free[:n-1]
		*c = conn{segs: c.segs[:0], cbuf: c.cbuf[:0], sbuf: c.sbuf[:0]}
	} else {
		c = &conn{}
	}
	c.id = g.nextID
	g.nextID++
	c.client, c.server, c.r = cl, srv, r
	c.v6 = cl.v6
	c.cli = side{ip: cl.ip, port: cl.nextPort, ttl: cl.ttl, ipID: uint16(r.Uint32()),
		window: uint16(500 + r.IntN(1500)), tsOffset: r.Uint32(), nextSeq: r.Uint32()}
	cl.nextPort++
	if cl.nextPort < 32768 || cl.nextPort > 60999 {
		cl.nextPort = 32768
	}
	c.srv = side{mac: c.server.mac, ip: c.server.ip4, port: c.server.port, ttl: 64, ipID: uint16(r.Uint32()),
		window: uint16(500 + r.IntN(100)), tsOffset: r.Uint32(), nextSeq: r.Uint32()}
	if c.v6 {
		c.srv.ip = c.server.ip6
		c.flowLabel = r.Uint32() & 0xfffff
	}
	if r.Float64() < g.cfg.VLAN {
		c.vlan = uint16(pick(r, []int{100, 120, 200}))
	}
	// Round trips from a LAN client (sub-ms) to a mobile one (100+ ms).
	c.rtt = int64(math.Exp(math.Log(0.3e6) + r.Float64()*math.Log(150/0.3)))
	mbps := 20 + r.Float64()*480
	c.srvGap = int64(float64(mtu*8) / mbps * 1e3)
	c.cliGap = c.srvGap * 2
	return c
}

// launch counts c and plans its handshake at t.
func (g *generator) launch(c *conn, t int64) {
	g.truth.Connections++
	if c.v6 {
		g.truth.IPv6Connections++
	}
	if c.vlan != 0 {
		g.truth.VLANConnections++
	}
	c.truth = len(g.truth.PerConn)
	g.truth.PerConn = append(g.truth.PerConn, ConnTruth{
		Client: addrPort(c.cli.ip, c.cli.port), Server: addrPort(c.srv.ip, c.srv.port), VLAN: c.vlan,
	})
	g.handshake(c, t)
	g.pending += c.planned
	c.planned = 0
	heap.Push(&g.active, c)
}

func addrPort(ip [16]byte, port uint16) string {
	return netip.AddrPortFrom(netip.AddrFrom16(ip).Unmap(), port).String()
}

// captureTime is t as the pcap records it.
func (g *generator) captureTime(t int64) time.Time {
	if !g.cfg.Nanos {
		t = t / 1000 * 1000
	}
	return time.Unix(0, t).UTC()
}
