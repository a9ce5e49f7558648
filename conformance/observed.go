package conformance

import (
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Transaction is what apiwatch saw of one HTTP request/response pair, in the
// neutral form the upstream expectations are compared with.
type Transaction struct {
	SrcIP, DstIP                          string // client and server as apiwatch oriented the flow
	SrcPort, DstPort                      int
	HasRequest, HasResponse               bool
	Method, Target, Host, Proto           string // request; Proto e.g. "HTTP/1.1", "" for 0.9
	UserAgent, Referer                    string
	Status                                int // 0 when no response
	ResponseProto                         string
	ContentType                           string // response Content-Type as sent
	RequestBodyLen, ResponseBodyLen       int64  // after transfer decoding (de-chunked)
	RequestDecodedLen, ResponseDecodedLen int64  // after content decoding; -1 unknown
	RequestBody, ResponseBody             []byte // decoded body prefix (up to 64 KiB)
	RequestHeaders, ResponseHeaders       [][2]string
	Gap, Truncated                        bool
	Start                                 time.Time
}

// MaxBodyPrefix is how much of a decoded body a Transaction carries.
const MaxBodyPrefix = 64 << 10

// requestDecodedLen is the request body length after content decoding; when
// the decoded length is unknown (-1) and the message carries no
// Content-Encoding, the transfer-decoded length is the same thing.
func (t *Transaction) requestDecodedLen() int64 {
	if t.RequestDecodedLen >= 0 {
		return t.RequestDecodedLen
	}
	if headerValue(t.RequestHeaders, "Content-Encoding") == "" {
		return t.RequestBodyLen
	}
	return -1
}

// responseDecodedLen: see requestDecodedLen.
func (t *Transaction) responseDecodedLen() int64 {
	if t.ResponseDecodedLen >= 0 {
		return t.ResponseDecodedLen
	}
	if headerValue(t.ResponseHeaders, "Content-Encoding") == "" {
		return t.ResponseBodyLen
	}
	return -1
}

// headerValue returns the first value of the named header (case-insensitive), "" if absent.
func headerValue(hs [][2]string, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// endpoint is one side of a connection, compared by address value so that
// "fe80:0000::1" and "fe80::1" (Suricata prints IPv6 fully expanded) are equal.
type endpoint struct {
	ip   netip.Addr
	port int
}

func parseEndpoint(ip string, port int) (endpoint, bool) {
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err != nil {
		return endpoint{}, false
	}
	return endpoint{a.Unmap(), port}, true
}

func (t *Transaction) endpoints() (endpoint, endpoint) {
	a, _ := parseEndpoint(t.SrcIP, t.SrcPort)
	b, _ := parseEndpoint(t.DstIP, t.DstPort)
	return a, b
}

// sameConn reports whether t belongs to the connection between a and b, in
// either orientation (the tools we compare with orient flows by first packet
// or by SYN; apiwatch by its own heuristics; the connection is the same).
func (t *Transaction) sameConn(a, b endpoint) bool {
	x, y := t.endpoints()
	return (x == a && y == b) || (x == b && y == a)
}

// txIndexes gives every transaction its index within its connection (the
// position of the request in the connection, ordered by Start, ties by input
// order) — Suricata's tx_id. The count restarts after a protocol change (a
// CONNECT answered 2xx, or 101 Switching Protocols), where Suricata starts a
// new app-layer state whose transactions count from 0 again.
func txIndexes(obs []Transaction) []int {
	type key struct{ a, b endpoint }
	order := make([]int, len(obs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return obs[order[i]].Start.Before(obs[order[j]].Start) })
	next := map[key]int{}
	idx := make([]int, len(obs))
	for _, i := range order {
		a, b := obs[i].endpoints()
		if b.ip.Less(a.ip) || (a.ip == b.ip && b.port < a.port) {
			a, b = b, a
		}
		k := key{a, b}
		idx[i] = next[k]
		next[k]++
		t := &obs[i]
		if t.HasResponse && (t.Status == 101 || (strings.EqualFold(t.Method, "CONNECT") && t.Status >= 200 && t.Status < 300)) {
			next[k] = 0
		}
	}
	return idx
}
