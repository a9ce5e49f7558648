package main

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Config says what to generate. The zero value is not useful: start from
// defaultConfig.
type Config struct {
	Seed     uint64
	Size     int64   // target capture size in bytes (pcap, before any gzip)
	Conns    int     // connections open at once; 0 scales with Size (16 to 500)
	Rate     float64 // requests per second, all connections together; 0: 4 per connection
	Nanos    bool    // nanosecond timestamps (default microsecond)
	Clients  int     // distinct client hosts
	IPv6     float64 // fraction of clients on IPv6
	VLAN     float64 // fraction of connections seen 802.1Q-tagged
	Pipeline float64 // fraction of connections that pipeline requests
	Scenario string
	Start    time.Time
}

func defaultConfig() Config {
	return Config{
		Seed: 1, Size: 300 << 20, Clients: 2000,
		IPv6: 0.1, VLAN: 0.1, Pipeline: 0.1, Scenario: "normal",
		Start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
	}
}

// Truth is what the generator wrote, for tests to compare a parser against.
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
	Endpoints          map[string]int `json:"endpoints"`
	Chunked            int            `json:"chunked_responses"`
	Gzip               int            `json:"gzip_responses"`
	NoBody             int            `json:"bodyless_responses"` // HEAD, 204, 304
	ClientPayloadBytes int64          `json:"client_payload_bytes"`
	ServerPayloadBytes int64          `json:"server_payload_bytes"`

	// PerConn lists every connection, for the test; too long for the sidecar.
	PerConn []ConnTruth `json:"-"`
}

// ConnTruth is one connection as the client saw it.
type ConnTruth struct {
	Client, Server string // ip:port
	VLAN           uint16
	Requests       int
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
	token    string // empty: anonymous, gets 401s
	session  string
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
	clients  []client
	active   connHeap
	free     []*conn // finished connections, reused for their buffers
	reqs     [4]request
	out      *pcapgo.Writer
	frame    []byte
	truth    Truth
	stopping bool
	pending  int64 // pcap bytes planned but not yet written
	nextID   int
}

// generate writes a pcap of cfg's traffic to w and returns what it wrote.
func generate(cfg Config, w io.Writer) (*Truth, error) {
	newScenario, ok := scenarios[cfg.Scenario]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q", cfg.Scenario)
	}
	if cfg.Size <= 0 || cfg.Conns < 0 || cfg.Rate < 0 || cfg.Clients <= 0 {
		return nil, fmt.Errorf("size and clients must be positive, conns and rate not negative")
	}
	// A small capture with hundreds of connections would be all handshakes:
	// scale concurrency with size, keeping each connection's mean think time
	// at 250 ms unless a rate is given.
	if cfg.Conns == 0 {
		cfg.Conns = int(min(max(cfg.Size/(512<<10), 16), 500))
	}
	if cfg.Rate == 0 {
		cfg.Rate = 4 * float64(cfg.Conns)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g := &generator{
		cfg:      cfg,
		r:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		scenario: newScenario(),
		frame:    make([]byte, 0, maxFrameLen),
		truth: Truth{
			Generator: "gencap", Seed: cfg.Seed, Scenario: cfg.Scenario,
			Methods: map[string]int{}, Statuses: map[string]int{}, Endpoints: map[string]int{},
		},
	}
	if cfg.Nanos {
		g.out = pcapgo.NewWriterNanos(bw)
	} else {
		g.out = pcapgo.NewWriter(bw)
	}
	if err := g.out.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	g.truth.PcapBytes = 24
	g.pool = newBodyPool(g.r)
	g.makeHosts()

	// Stagger the first connections over one mean think time, so the capture
	// does not open with a burst of SYNs.
	start := cfg.Start.UnixNano()
	spread := g.meanThink()
	for range cfg.Conns {
		g.startConn(start + g.r.Int64N(spread+1))
	}
	if err := g.run(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return &g.truth, nil
}

// meanThink is the pause between two exchanges of one connection that gives
// cfg.Rate requests per second over cfg.Conns connections.
func (g *generator) meanThink() int64 {
	return int64(float64(g.cfg.Conns) / g.cfg.Rate * 1e9)
}

func (g *generator) makeHosts() {
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
	r := g.r
	weights := make([]int, len(uaProfiles))
	for i, p := range uaProfiles {
		weights[i] = p.weight
	}
	g.clients = make([]client, g.cfg.Clients)
	for i := range g.clients {
		c := &g.clients[i]
		c.v6 = r.Float64() < g.cfg.IPv6
		if c.v6 {
			c.ip = ipv6(0xfd00, 0x20, 0, uint16(i>>16), uint16(i))
		} else {
			c.ip = ipv4(10, 20+byte(i/(254*256)), byte(i/254), byte(1+i%254))
		}
		c.nextPort = uint16(32768 + r.IntN(28000))
		c.ua = uaProfiles[weighted(r, weights)]
		c.ttl = 64 - uint8(2+r.IntN(10))
		if c.ua.name == "browser" {
			c.ttl = 128 - uint8(2+r.IntN(10)) // Windows
		}
		c.userID = 1 + r.IntN(100000)
		if r.IntN(25) > 0 {
			c.token = jwt(r, c.userID)
		}
		if c.ua.browser {
			c.gaID = strconv.Itoa(100000000+r.IntN(900000000)) + "." + strconv.Itoa(1700000000+r.IntN(30000000))
			if c.token != "" {
				c.session = randToken(r, 32)
			}
		}
	}
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

func (g *generator) startConn(t int64) {
	r := g.r
	var c *conn
	if n := len(g.free); n > 0 {
		c, g.free = g.free[n-1], g.free[:n-1]
		*c = conn{segs: c.segs[:0], cbuf: c.cbuf[:0], sbuf: c.sbuf[:0]}
	} else {
		c = &conn{}
	}
	c.id = g.nextID
	g.nextID++
	cl := &g.clients[r.IntN(len(g.clients))]
	c.client, c.server = cl, &g.servers[r.IntN(len(g.servers))]
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
	c.requestsLeft = 1
	if r.IntN(10) >= 3 {
		c.requestsLeft = min(50, 2+int(r.ExpFloat64()*8))
	}
	c.pipelined = r.Float64() < g.cfg.Pipeline

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
