package identity

import (
	"net/netip"

	"github.com/apiwatch/apiwatch/parse/http1"
)

// maxHops bounds the forwarding chain read from the right.
const maxHops = 32

// hopList holds the right-most maxHops entries of a forwarding chain as
// views into header values.
type hopList struct {
	vals [maxHops][]byte
	n    int  // entries kept
	lost bool // older entries were dropped
}

func (l *hopList) add(b []byte) {
	if l.n == maxHops {
		copy(l.vals[:], l.vals[1:])
		l.n--
		l.lost = true
	}
	l.vals[l.n] = b
	l.n++
}

// ClientIP returns the address of the client behind peer, the TCP peer of
// the connection. Forwarding headers are read only when peer is a trusted
// proxy; the chain is walked from the right, skipping trusted proxies, and
// the first untrusted address is the client, so addresses a client prepends
// are never reached. An entry that is no address (garbage, "unknown", an
// obfuscated identifier like "_hidden") stops the walk: the last address
// believed (a trusted proxy) is returned. IPv4-mapped IPv6 addresses are
// unmapped and zones dropped.
func (r *Resolver) ClientIP(req *http1.Message, peer netip.Addr) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if !r.isTrusted(peer) || req == nil {
		return peer
	}
	var hops hopList
	mode := r.fwd
	if mode == fwdAuto {
		mode = fwdForwarded
		if req.Header("X-Forwarded-For") != nil {
			mode = fwdXFF
		}
	}
	for i := range req.Headers {
		h := &req.Headers[i]
		switch {
		case mode == fwdXFF && eqFold(h.Name, "X-Forwarded-For"):
			splitXFF(h.Value, &hops)
		case mode == fwdForwarded && eqFold(h.Name, "Forwarded"):
			splitForwarded(h.Value, &hops)
		}
	}
	client := peer
	for i := hops.n - 1; i >= 0 && r.isTrusted(client); i-- {
		a, ok := parseHop(hops.vals[i])
		if !ok {
			break
		}
		client = a
	}
	return client
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func splitXFF(v []byte, hops *hopList) {
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			if e := trimSpace(v[start:i]); len(e) > 0 {
				hops.add(e)
			}
			start = i + 1
		}
	}
}

// splitForwarded adds the for= value of each element of a Forwarded header
// (RFC 7239): elements are separated by ',', pairs by ';', values are tokens
// or quoted strings. An element without for= adds an empty (invalid) entry:
// the chain cannot be trusted past it.
func splitForwarded(v []byte, hops *hopList) {
	i := 0
	for i < len(v) {
		var forVal []byte
		hasFor := false
		// One element: pairs until ',' outside quotes.
		for i < len(v) && v[i] != ',' {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ';') {
				i++
			}
			ks := i
			for i < len(v) && v[i] != '=' && v[i] != ';' && v[i] != ',' {
				i++
			}
			key := trimSpace(v[ks:i])
			var val []byte
			if i < len(v) && v[i] == '=' {
				i++
				for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
					i++
				}
				vs := i
				if i < len(v) && v[i] == '"' {
					i++
					for i < len(v) && v[i] != '"' {
						if v[i] == '\\' {
							i++
						}
						i++
					}
					if i < len(v) {
						i++
					}
				} else {
					for i < len(v) && v[i] != ';' && v[i] != ',' {
						i++
					}
				}
				if i > len(v) {
					i = len(v)
				}
				val = trimSpace(v[vs:i])
			}
			if eqFold(key, "for") && !hasFor {
				forVal, hasFor = val, true
			}
			for i < len(v) && v[i] != ';' && v[i] != ',' {
				i++ // junk after a quoted string
			}
		}
		if i < len(v) {
			i++ // ','
		}
		if hasFor {
			hops.add(forVal)
		} else {
			hops.add(nil)
		}
	}
}

// parseHop parses one chain entry: an address with an optional port, IPv6
// possibly bracketed, possibly quoted (Forwarded).
func parseHop(b []byte) (netip.Addr, bool) {
	b = trimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	if b[0] == '[' {
		end := -1
		for i := 1; i < len(b); i++ {
			if b[i] == ']' {
				end = i
				break
			}
		}
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := b[end+1:]; len(rest) > 0 && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}, false
		}
		b = b[1:end]
	} else {
		colons, last := 0, -1
		for i, c := range b {
			if c == ':' {
				colons++
				last = i
			}
		}
		if colons == 1 { // IPv4 with a port
			if !validPort(b[last+1:]) {
				return netip.Addr{}, false
			}
			b = b[:last]
		}
	}
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func validPort(b []byte) bool {
	if len(b) > 1 && b[0] == '_' && len(b) <= 32 {
		return true // RFC 7239 obfuscated port
	}
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 parses a dotted quad as netip.ParseAddr does (no leading
// zeros), without allocating.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	part, digits, val := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || part == 4 {
				return netip.Addr{}, false
			}
			ip[part] = byte(val)
			part++
			digits, val = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if part != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}
