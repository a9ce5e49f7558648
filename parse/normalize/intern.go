package normalize

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/parse/identity"
)

// maxCachedActors bounds the actor cache: far above the sessions a worker sees
// at once, and cheap to start over when a scanner sprays random tokens.
const maxCachedActors = 8192

// Slots of the intern caches (powers of two). Sized well above the
// distinct methods, hosts, media types, user agents and endpoints, and the
// busy addresses, of a real network; a collision only costs a string.
const (
	internSlots = 4096
	addrBits    = 12
	addrSlots   = 1 << addrBits
)

// interner returns one string for repeated values (methods, hosts, media
// types, user agents, endpoints, addresses), so events of a busy sensor do
// not allocate the same strings again and again.
//
// It is a direct-mapped cache, not a map: a value hashes to one slot, a hit
// is one comparison, a miss overwrites the slot. That is a single memory
// access per value where a map costs several, bounded memory without
// resets, and lookups that never allocate.
type interner struct {
	seed  maphash.Seed
	strs  *[internSlots]internedString
	addrs *[addrSlots]internedAddr
}

type internedString struct {
	key, val string // val is key made valid UTF-8
}

type internedAddr struct {
	key netip.Addr
	val string
}

func (in *interner) bytes(b []byte) string {
	if in.strs == nil {
		in.seed, in.strs = maphash.MakeSeed(), new([internSlots]internedString)
	}
	s := &in.strs[maphash.Bytes(in.seed, b)&(internSlots-1)]
	if s.key == string(b) && s.val != "" {
		return s.val
	}
	s.key = string(b)
	s.val = text(s.key)
	return s.val
}

func (in *interner) addr(a netip.Addr) string {
	if in.addrs == nil {
		in.addrs = new([addrSlots]internedAddr)
	}
	b := a.As16()
	h := (binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:])) * 0xff51afd7ed558ccd
	s := &in.addrs[h>>(64-addrBits)]
	if s.key == a && s.val != "" {
		return s.val
	}
	s.key, s.val = a, a.String()
	return s.val
}

// text returns s as valid UTF-8. Protobuf strings must be: one hostile
// byte in a header would otherwise make the whole event unencodable.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// texts applies text to every element of ss, in place.
func texts(ss []string) []string {
	for i, s := range ss {
		ss[i] = text(s)
	}
	return ss
}

// actorCache remembers the actor of an Authorization header value across
// connections: a client sends the same token on every request, and decoding
// a JWT and keying its hash costs more than the rest of the event. Only
// actors that the Authorization header alone decided are kept (not, say, the
// API key behind a "Bearer null"); the key is a hash of the header, so no
// credential is stored.
type actorCache struct {
	seed   maphash.Seed
	actors map[uint64]identity.Actor
}

// key returns the cache key of an Authorization header value.
func (c *actorCache) key(auth []byte) uint64 {
	if c.actors == nil {
		c.seed, c.actors = maphash.MakeSeed(), make(map[uint64]identity.Actor)
	}
	return maphash.Bytes(c.seed, auth)
}

// actor returns the actor of the Authorization header value of key, from
// the cache or else from resolve.
func (c *actorCache) actor(key uint64, resolve func() identity.Actor) identity.Actor {
	if a, ok := c.actors[key]; ok {
		return a
	}
	a := resolve()
	if a.FromAuthorization {
		if len(c.actors) >= maxCachedActors {
			clear(c.actors)
		}
		c.actors[key] = a
	}
	return a
}
