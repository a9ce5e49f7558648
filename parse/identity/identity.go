package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/netip"
	"strings"
	"sync"
)

// HashLen is the length of every hash this package returns: 16 bytes of
// HMAC-SHA256, hex-encoded.
const HashLen = 32

// Hash domains: one per kind of value, so that one string used as an API key
// and as a user name hashes differently.
const (
	DomainJWT      = "jwt"       // iss "|" stable claim of a JWT
	DomainJWTToken = "jwt-token" // a whole JWT without stable claims
	DomainBearer   = "bearer"    // an opaque bearer token (or another scheme's credentials)
	DomainAPIKey   = "apikey"    // API key from a header or the query
	DomainUser     = "user"      // a normalised user name (Basic, Digest, login bodies)
	DomainBasicRaw = "basic-raw" // Basic credentials that do not decode
	DomainSession  = "session"   // a session cookie value
	DomainIP       = "ip"        // a client address (the ClientIP actor)
	DomainObject   = "object"    // a non-numeric object identifier
)

// Config tells a Resolver where credentials live. The zero value is usable:
// every nil list takes its default.
type Config struct {
	// Secret keys every hash. It must be set (and kept) for identifiers to
	// be stable across restarts and sensors. When empty, New draws a random
	// per-process key and Resolver.Ephemeral reports true: identifiers are
	// then only comparable within this process — log a warning.
	Secret []byte
	// APIKeyHeaders are header names (case-insensitive) carrying an API key,
	// in order of precedence. Default DefaultAPIKeyHeaders.
	APIKeyHeaders []string
	// APIKeyQueryParams are query parameter names (case-insensitive)
	// carrying an API key, in order of precedence. Default
	// DefaultAPIKeyQueryParams.
	APIKeyQueryParams []string
	// SessionCookies are cookie names (case-sensitive, as cookies are) that
	// carry a session, in order of precedence. An entry may start or end
	// with '*' to match a suffix or prefix ("*_session" matches Rails'
	// "_myapp_session"). The "__Host-" and "__Secure-" prefixes of a cookie
	// name are ignored when matching. Default DefaultSessionCookies.
	SessionCookies []string
	// TrustedProxies are the peers whose forwarding headers are believed.
	// Empty: nobody's; the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// ForwardedHeader selects the header a trusted proxy sets:
	// "X-Forwarded-For", "Forwarded", or "" (auto: X-Forwarded-For when
	// present, else Forwarded). Set it when your proxies use only one:
	// in auto mode a client can forge the header the proxy does not set.
	ForwardedHeader string
	// LoginPaths are login endpoints, in addition to detection: path
	// prefixes matched segment by segment, case-insensitively, where a
	// segment "{name}" or "*" matches any one segment
	// ("/v1/tenants/{id}/login").
	LoginPaths []string
}

// Defaults for Config's lists.
var (
	DefaultAPIKeyHeaders     = []string{"X-API-Key", "Api-Key", "X-Api-Token", "X-Auth-Token", "Apikey", "X-Access-Token"}
	DefaultAPIKeyQueryParams = []string{"api_key", "apikey", "key", "access_token", "token"}
	DefaultSessionCookies    = []string{"session", "sessionid", "sid", "connect.sid", "JSESSIONID", "PHPSESSID", "ASP.NET_SessionId", "_session_id", "laravel_session", "*_session"}
)

// Kind is where an actor's identity came from.
type Kind uint8

const (
	KindNone          Kind = iota // nothing identifies the caller
	KindJWT                       // a bearer token that decodes as a JWT
	KindBearer                    // an opaque bearer token (or another Authorization scheme)
	KindAPIKey                    // an API key header or query parameter
	KindBasic                     // a Basic (or Digest) user name
	KindSessionCookie             // a session cookie
	KindClientIP                  // the client address only
)

var kindNames = [...]string{"none", "jwt", "bearer", "api_key", "basic", "session_cookie", "client_ip"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Actor is who is calling. ID is a keyed hash (HashLen hex characters), empty
// for KindNone. Issuer is a JWT's "iss" in clear text (it names the identity
// provider, not the user), at most 200 bytes.
type Actor struct {
	ID     string
	Kind   Kind
	Issuer string
	// FromAuthorization reports that the Authorization header alone
	// decided the actor: the same header value always gives the same
	// Actor, so callers may cache it by that value.
	FromAuthorization bool
}

// Resolver derives identities. It is safe for concurrent use.
type Resolver struct {
	ephemeral bool
	pool      sync.Pool // *hasher

	apiKeyHeaders []string
	apiKeyQuery   []string
	cookies       []cookiePattern
	trusted       []netip.Prefix
	fwd           uint8 // fwdAuto, fwdXFF, fwdForwarded
	loginPaths    [][]string

	mu      sync.RWMutex
	issuers map[string]string // interned JWT issuers
}

const (
	fwdAuto = iota
	fwdXFF
	fwdForwarded
)

type cookiePattern struct {
	name           string
	prefix, suffix bool
}

// New returns a Resolver for cfg.
func New(cfg Config) *Resolver {
	r := &Resolver{issuers: make(map[string]string)}
	key := cfg.Secret
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("identity: no randomness: " + err.Error())
		}
		r.ephemeral = true
	} else {
		key = append([]byte(nil), key...)
	}
	r.pool.New = func() any { return &hasher{h: hmac.New(sha256.New, key)} }

	r.apiKeyHeaders = orDefault(cfg.APIKeyHeaders, DefaultAPIKeyHeaders)
	r.apiKeyQuery = orDefault(cfg.APIKeyQueryParams, DefaultAPIKeyQueryParams)
	for _, c := range orDefault(cfg.SessionCookies, DefaultSessionCookies) {
		p := cookiePattern{name: c}
		if strings.HasPrefix(c, "*") {
			p.suffix, p.name = true, c[1:]
		} else if strings.HasSuffix(c, "*") {
			p.prefix, p.name = true, c[:len(c)-1]
		}
		if p.name != "" {
			r.cookies = append(r.cookies, p)
		}
	}
	for _, p := range cfg.TrustedProxies {
		if p.IsValid() {
			r.trusted = append(r.trusted, p.Masked())
		}
	}
	switch strings.ToLower(cfg.ForwardedHeader) {
	case "x-forwarded-for":
		r.fwd = fwdXFF
	case "forwarded":
		r.fwd = fwdForwarded
	}
	for _, lp := range cfg.LoginPaths {
		var segs []string
		for _, s := range strings.Split(strings.ToLower(lp), "/") {
			if s != "" {
				segs = append(segs, s)
			}
		}
		if len(segs) > 0 {
			r.loginPaths = append(r.loginPaths, segs)
		}
	}
	return r
}

func orDefault(v, d []string) []string {
	if v == nil {
		return d
	}
	return v
}

// Ephemeral reports whether Config.Secret was empty, so that hashes are keyed
// with a random per-process key and are not stable across restarts.
func (r *Resolver) Ephemeral() bool { return r.ephemeral }

// Hash returns the keyed hash of value in domain: hex of the first 16 bytes of
// HMAC-SHA256(secret, domain || 0x00 || value).
func (r *Resolver) Hash(domain string, value []byte) string {
	h := r.get(domain)
	h.write(value)
	return r.done(h)
}

// hasher is one HMAC with scratch space; pooled so that hashing allocates
// only its result.
type hasher struct {
	h       hash.Hash
	sum     [sha256.Size]byte
	buf     [128]byte
	hex     [HashLen]byte
	scratch []byte // base64 and unescaping output
}

func (r *Resolver) get(domain string) *hasher {
	h := r.pool.Get().(*hasher)
	h.h.Reset()
	h.writeString(domain)
	h.buf[0] = 0
	h.h.Write(h.buf[:1])
	return h
}

func (r *Resolver) done(h *hasher) string {
	s := h.sumString()
	r.put(h)
	return s
}

func (r *Resolver) put(h *hasher) {
	if cap(h.scratch) > 16<<10 {
		h.scratch = nil
	}
	r.pool.Put(h)
}

func (h *hasher) write(b []byte) { h.h.Write(b) }

func (h *hasher) writeString(s string) {
	for len(s) > 0 {
		n := copy(h.buf[:], s)
		h.h.Write(h.buf[:n])
		s = s[n:]
	}
}

func (h *hasher) sumString() string {
	sum := h.h.Sum(h.sum[:0])
	hex.Encode(h.hex[:], sum[:HashLen/2])
	return string(h.hex[:])
}
