package normalize

import (
	"hash/maphash"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/identity"
)

// maxInterned bounds each intern table: far above the distinct methods,
// hosts, media types, user agents and busy addresses of a real network, and
// cheap to start over when a scanner sprays random values.
const maxInterned = 8192

// interner returns one string for repeated values (methods, hosts, media
// types, user agents, addresses), so events of a busy sensor do not
// allocate the same strings again and again. Looking up a []byte key in a
// map[string] does not allocate.
type interner struct {
	strs  map[string]string
	addrs map[netip.Addr]string
}

func (in *interner) bytes(b []byte) string {
	if s, ok := in.strs[string(b)]; ok {
		return s
	}
	if in.strs == nil || len(in.strs) >= maxInterned {
		in.strs = make(map[string]string)
	}
	s := string(b)
	in.strs[s] = text(s)
	return in.strs[s]
}

func (in *interner) addr(a netip.Addr) string {
	if s, ok := in.addrs[a]; ok {
		return s
	}
	if in.addrs == nil || len(in.addrs) >= maxInterned {
		in.addrs = make(map[netip.Addr]string)
	}
	s := a.String()
	in.addrs[a] = s
	return s
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

// actorCache remembers the actor of an Authorization header value: a
// session sends the same token on every request, and decoding a JWT and
// keying its hash costs more than the rest of the event. Only actors that
// the Authorization header alone decided are kept (not, say, the API key
// behind a "Bearer null"); the key is a hash of the header, so no
// credential is stored.
type actorCache struct {
	seed   maphash.Seed
	actors map[uint64]identity.Actor
}

func (c *actorCache) actor(req *http1.Message, resolve func() identity.Actor) identity.Actor {
	auth := req.Header("Authorization")
	if len(auth) == 0 {
		return resolve()
	}
	if c.actors == nil {
		c.seed, c.actors = maphash.MakeSeed(), make(map[uint64]identity.Actor)
	}
	key := maphash.Bytes(c.seed, auth)
	if a, ok := c.actors[key]; ok {
		return a
	}
	a := resolve()
	if a.FromAuthorization {
		if len(c.actors) >= maxInterned {
			clear(c.actors)
		}
		c.actors[key] = a
	}
	return a
}
