package baseline

import (
	"github.com/axiomhq/hyperloglog"
)

// Actor is one actor's current window on one endpoint, and a little of its
// history there.
type Actor struct {
	ID          string
	Kind        string
	WindowStart int64 // capture time, ns
	// In the current window: events, distinct objects, how many object ids
	// continued a numeric sequence (within ±2 of the previous one) out of
	// how many numeric ones, answers that denied access (401/403/404), and
	// objects first served to another actor.
	Events, Numeric, Sequential, Denied, Foreign uint32
	Objects                                      objectSet
	Bytes, Records                               int64
	// ClientIPs seen in the window (at most MaxClientIPs).
	ClientIPs []string
	// Flagged is set by a detector: the window was anomalous and is not
	// learned from when it closes.
	Flagged bool
	// History: closed windows, and the most distinct objects in one of them
	// among those closed while the endpoint was learning (an actor that was
	// already this busy then is the norm, such as a sync job).
	Windows           uint32
	LearnedMaxObjects uint64
	lastNumber        uint64
	hasNumber         bool
}

// MaxClientIPs bounds Actor.ClientIPs and Source-like lists.
const MaxClientIPs = 8

// Source is one client address's login window on one endpoint.
type Source struct {
	IP                 string
	WindowStart        int64
	Attempts, Failures uint32
	Usernames          objectSet
	// FailuresBeforeSuccess is the run of failures before the latest
	// success (0 when the latest attempt failed or none succeeded).
	FailuresBeforeSuccess, RunFailures uint32
	Flagged                            bool
}

// Username is one submitted username's login window on one endpoint.
type Username struct {
	Hash                  string
	WindowStart           int64
	Attempts, Failures    uint32
	Sources               objectSet
	FailuresBeforeSuccess uint32
	RunFailures           uint32
	ClientIPs             []string
	// RunSources are the sources of the current run of failures (at most
	// MaxClientIPs; RunManySources when there were more). A success from
	// elsewhere is the account's owner logging in after an attack, not the
	// attacker getting in: FailuresBeforeSuccess stays 0 then.
	RunSources     []string
	RunManySources bool
}

// objectSet counts distinct keys: exactly up to a cap, then with a
// HyperLogLog sketch (about 1% error, 16 KiB at most).
type objectSet struct {
	exact map[uint64]struct{}
	hll   *hyperloglog.Sketch
}

// add adds key and reports whether it was new (for the exact part; once
// estimating, whether the estimate may have grown).
func (s *objectSet) add(key uint64, limit int) bool {
	if s.hll != nil {
		s.hll.InsertHash(mix(key))
		return true
	}
	if s.exact == nil {
		s.exact = make(map[uint64]struct{}, 8)
	}
	if _, ok := s.exact[key]; ok {
		return false
	}
	if len(s.exact) < limit {
		s.exact[key] = struct{}{}
		return true
	}
	s.estimate()
	s.hll.InsertHash(mix(key))
	return true
}

// Len returns the (estimated beyond the cap) number of distinct keys.
func (s *objectSet) Len() uint64 {
	if s.hll != nil {
		return s.hll.Estimate()
	}
	return uint64(len(s.exact))
}

// limitTo switches to estimating when the set holds more exact keys than
// limit (a set restored under a lower cap).
func (s *objectSet) limitTo(limit int) {
	if s.hll == nil && len(s.exact) > limit {
		s.estimate()
	}
}

// estimate moves the exact keys into a sketch.
func (s *objectSet) estimate() {
	s.hll = hyperloglog.New14()
	for k := range s.exact {
		s.hll.InsertHash(mix(k))
	}
	s.exact = nil
}

func (s *objectSet) reset() {
	s.hll = nil
	clear(s.exact)
}

// mix spreads the bits of a key (a small number, say) as HyperLogLog needs.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func addIP(ips []string, ip string) []string {
	for _, x := range ips {
		if x == ip {
			return ips
		}
	}
	if len(ips) >= MaxClientIPs || ip == "" {
		return ips
	}
	return append(ips, ip)
}

// twoGen is a bounded map with approximate least-recently-used eviction in
// O(1): entries live in two generations; a hit in the old one moves to the
// current one; when the current one holds half the cap, the old one is
// dropped and the current one becomes old. What is dropped was not touched
// for at least cap/2 insertions.
type twoGen[K comparable, V any] struct {
	half     int
	cur, old map[K]V
}

func newTwoGen[K comparable, V any](limit int) twoGen[K, V] {
	return twoGen[K, V]{half: max(limit/2, 1), cur: make(map[K]V)}
}

func (g *twoGen[K, V]) get(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.old[k]
	if ok {
		delete(g.old, k)
		g.put(k, v)
	}
	return v, ok
}

func (g *twoGen[K, V]) put(k K, v V) {
	if len(g.cur) >= g.half {
		g.old, g.cur = g.cur, make(map[K]V, g.half/4)
	}
	g.cur[k] = v
}

func (g *twoGen[K, V]) len() int { return len(g.cur) + len(g.old) }

// all yields the entries, the older generation first.
func (g *twoGen[K, V]) all(yield func(K, V) bool) {
	for _, m := range [...]map[K]V{g.old, g.cur} {
		for k, v := range m {
			if !yield(k, v) {
				return
			}
		}
	}
}

func (g *twoGen[K, V]) delete(k K) {
	delete(g.cur, k)
	delete(g.old, k)
}

// setLimit changes the cap; a lower one takes effect over the next two
// generations.
func (g *twoGen[K, V]) setLimit(limit int) { g.half = max(limit/2, 1) }

func (g *twoGen[K, V]) limit() int { return 2 * g.half }
