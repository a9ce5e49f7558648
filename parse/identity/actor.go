package identity

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/jsonstr"
)

// Actor returns who sent req, by precedence:
//
//  1. Authorization: Bearer with a JWT (KindJWT): decoded without
//     verification (the sensor has no keys; a forged token is still a
//     distinct caller). Identity: iss "|" the first present of sub,
//     client_id, azp, appid, oid, uid, user_id, email, preferred_username,
//     username, upn (string or number); Issuer is iss in clear. A JWT with
//     none of them is identified by the whole token (DomainJWTToken).
//  2. Any other Authorization credentials (KindBearer): an opaque or
//     malformed bearer token, a scheme-less value, another scheme ("Token",
//     "ApiKey", "SSWS"…) — the credentials, scheme excluded, are hashed.
//     AWS SigV4 ("AWS4-HMAC-SHA256 Credential=AKID/…") is KindAPIKey of the
//     access key id (the signature changes per request).
//  3. An API key header (Config.APIKeyHeaders, first listed present) —
//     KindJWT if its value is a JWT.
//  4. An API key query parameter (Config.APIKeyQueryParams), percent-decoded
//     ('+' kept): the same key in a header or the query is one actor.
//  5. Authorization: Basic (KindBasic): the user name only, normalised as
//     login user names are (so Actor.ID equals Login.UsernameHash of the
//     same user); credentials that are not base64 "user:pass" hash whole
//     (DomainBasicRaw). Digest's username= is read the same way.
//  6. A session cookie (Config.SessionCookies, first listed present).
//  7. clientIP (KindClientIP, hashed in DomainIP), KindNone when invalid.
//
// An Authorization header with a scheme and no credentials, or with a
// placeholder ("Bearer null", "Bearer undefined", "none", "false", `""`),
// is no credential: single-page apps send these when logged out, and they
// would otherwise merge every anonymous caller into one actor.
//
// Nothing read is kept: only hashes leave.
func (r *Resolver) Actor(req *http1.Message, clientIP netip.Addr) Actor {
	if req != nil {
		if a, ok := r.actorFromHeaders(req); ok {
			return a
		}
	}
	if clientIP.IsValid() {
		h := r.get(DomainIP)
		b := clientIP.Unmap().As16()
		copy(h.buf[:16], b[:])
		h.write(h.buf[:16])
		return Actor{ID: r.done(h), Kind: KindClientIP}
	}
	return Actor{}
}

// fromAuthorization marks an actor the Authorization header alone decided.
func fromAuthorization(a Actor) Actor {
	a.FromAuthorization = true
	return a
}

func (r *Resolver) actorFromHeaders(req *http1.Message) (Actor, bool) {
	var basic []byte // Basic credentials, kept for rank 5
	var digest []byte
	if auth := trimSpace(req.Header("Authorization")); len(auth) > 0 {
		scheme, creds := auth, []byte(nil)
		for i, c := range auth {
			if c == ' ' || c == '\t' {
				scheme, creds = auth[:i], trimSpace(auth[i+1:])
				break
			}
		}
		switch {
		case creds == nil && knownScheme(scheme), placeholder(creds):
			// "Bearer", "Bearer null", "Bearer undefined": a client
			// without credentials (SPAs send these); not an identity.
		case creds == nil: // a bare credential without a scheme
			return fromAuthorization(r.bearer(scheme)), true
		case eqFold(scheme, "Basic"):
			basic = creds
		case eqFold(scheme, "Digest"):
			digest = creds
		case eqFold(scheme, "AWS4-HMAC-SHA256"):
			if id := awsKeyID(creds); len(id) > 0 {
				return fromAuthorization(Actor{ID: r.Hash(DomainAPIKey, id), Kind: KindAPIKey}), true
			}
			return fromAuthorization(Actor{ID: r.Hash(DomainBearer, creds), Kind: KindBearer}), true
		default:
			return fromAuthorization(r.bearer(creds)), true
		}
	}
	for _, name := range r.apiKeyHeaders {
		if v := trimSpace(req.Header(name)); len(v) > 0 && !placeholder(v) {
			if a, ok := r.jwtActor(v); ok {
				return a, true
			}
			return Actor{ID: r.Hash(DomainAPIKey, v), Kind: KindAPIKey}, true
		}
	}
	if v := r.queryAPIKey(req.Target); v != nil {
		h := r.get(DomainAPIKey)
		if needsDecode(v, false) {
			h.scratch = percentDecode(h.scratch[:0], v, false)
			v = h.scratch
		}
		h.write(v)
		return Actor{ID: r.done(h), Kind: KindAPIKey}, true
	}
	if basic != nil {
		return r.basicActor(basic), true
	}
	if digest != nil {
		if u, ok := authParam(digest, "username"); ok {
			if id := r.userHash(u, encRaw); id != "" {
				return Actor{ID: id, Kind: KindBasic}, true
			}
		}
		return Actor{ID: r.Hash(DomainBasicRaw, digest), Kind: KindBasic}, true
	}
	if v := r.sessionCookie(req); v != nil {
		return Actor{ID: r.Hash(DomainSession, v), Kind: KindSessionCookie}, true
	}
	return Actor{}, false
}

func knownScheme(s []byte) bool {
	return eqFold(s, "Bearer") || eqFold(s, "Basic") || eqFold(s, "Digest") || eqFold(s, "Token") || eqFold(s, "Negotiate") || eqFold(s, "NTLM")
}

// placeholder reports credentials that stand for none.
func placeholder(c []byte) bool {
	return eqFold(c, "null") || eqFold(c, "undefined") || eqFold(c, "none") || eqFold(c, "false") || string(c) == `""` || string(c) == "''"
}

func (r *Resolver) bearer(tok []byte) Actor {
	if a, ok := r.jwtActor(tok); ok {
		return a
	}
	return Actor{ID: r.Hash(DomainBearer, tok), Kind: KindBearer}
}

func (r *Resolver) basicActor(creds []byte) Actor {
	h := r.pool.Get().(*hasher)
	user, ok := decodeBasic(h, creds)
	var id string
	if ok {
		id = r.userHashWith(h, user, encRaw)
	}
	if id == "" { // undecodable, or no user name (the password is the credential)
		h.begin(DomainBasicRaw)
		h.write(creds)
		id = h.sumString()
	}
	r.put(h)
	return Actor{ID: id, Kind: KindBasic}
}

// decodeBasic decodes Basic credentials into h.scratch and returns the user
// name (a view into h.scratch); the password is never looked at.
func decodeBasic(h *hasher, creds []byte) ([]byte, bool) {
	for len(creds) > 0 && creds[len(creds)-1] == '=' {
		creds = creds[:len(creds)-1]
	}
	if len(creds) == 0 || len(creds) > 4096 {
		return nil, false
	}
	n := base64.RawStdEncoding.DecodedLen(len(creds))
	if cap(h.scratch) < n {
		h.scratch = make([]byte, n)
	}
	buf := h.scratch[:n]
	n, err := base64.RawStdEncoding.Decode(buf, creds)
	if err != nil {
		return nil, false
	}
	for i, c := range buf[:n] {
		if c == ':' {
			return buf[:i], true
		}
	}
	return nil, false
}

func (h *hasher) begin(domain string) {
	h.h.Reset()
	h.writeString(domain)
	h.buf[0] = 0
	h.h.Write(h.buf[:1])
}

// awsKeyID returns the access key id of AWS SigV4 credentials.
func awsKeyID(creds []byte) []byte {
	v, ok := authParam(creds, "Credential")
	if !ok {
		return nil
	}
	for i, c := range v {
		if c == '/' {
			return v[:i]
		}
	}
	return v
}

// authParam returns the value of name=value (value a token or a quoted
// string, escapes not removed) in a comma-separated auth-param list.
func authParam(b []byte, name string) ([]byte, bool) {
	for i := 0; i < len(b); {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == ',') {
			i++
		}
		ks := i
		for i < len(b) && b[i] != '=' && b[i] != ',' {
			i++
		}
		key := trimSpace(b[ks:i])
		if i >= len(b) || b[i] != '=' {
			continue
		}
		i++
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		var val []byte
		if i < len(b) && b[i] == '"' {
			vs := i + 1
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i > len(b) {
				i = len(b)
			}
			val = b[vs:i]
			if i < len(b) {
				i++
			}
		} else {
			vs := i
			for i < len(b) && b[i] != ',' {
				i++
			}
			val = trimSpace(b[vs:i])
		}
		if eqFold(key, name) {
			return val, true
		}
	}
	return nil, false
}

// queryAPIKey returns the raw value of the highest-precedence API key
// parameter in target's query.
func (r *Resolver) queryAPIKey(target []byte) []byte {
	q := rawQuery(target)
	if len(q) == 0 || len(r.apiKeyQuery) == 0 {
		return nil
	}
	best, bestRank := []byte(nil), len(r.apiKeyQuery)
	for len(q) > 0 {
		var pair []byte
		pair, q = cut(q, '&')
		name, val := cut(pair, '=')
		if len(val) == 0 || placeholder(val) {
			continue
		}
		for rank, p := range r.apiKeyQuery[:bestRank] {
			if eqFold(name, p) {
				best, bestRank = val, rank
				break
			}
		}
	}
	return best
}

// rawQuery returns the query of a request target, without the fragment.
func rawQuery(target []byte) []byte {
	for i, c := range target {
		if c == '?' {
			q := target[i+1:]
			for j, c := range q {
				if c == '#' {
					return q[:j]
				}
			}
			return q
		}
	}
	return nil
}

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// sessionCookie returns the value of the highest-precedence session cookie
// in the request's Cookie headers.
func (r *Resolver) sessionCookie(req *http1.Message) []byte {
	if len(r.cookies) == 0 {
		return nil
	}
	best, bestRank := []byte(nil), len(r.cookies)
	for i := range req.Headers {
		if !eqFold(req.Headers[i].Name, "Cookie") {
			continue
		}
		v := req.Headers[i].Value
		for len(v) > 0 {
			var pair []byte
			pair, v = cut(v, ';')
			name, val := cut(pair, '=')
			name, val = trimSpace(name), trimSpace(val)
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if len(val) == 0 {
				continue
			}
			if rank := r.cookieRank(name, bestRank); rank < bestRank {
				best, bestRank = val, rank
			}
		}
	}
	return best
}

// cookieRank returns the index of the first pattern before limit that
// matches name, or limit.
func (r *Resolver) cookieRank(name []byte, limit int) int {
	if len(name) > 9 && name[0] == '_' && name[1] == '_' {
		if string(name[:7]) == "__Host-" {
			name = name[7:]
		} else if string(name[:9]) == "__Secure-" {
			name = name[9:]
		}
	}
	for rank, p := range r.cookies[:limit] {
		switch {
		case p.prefix:
			if len(name) > len(p.name) && string(name[:len(p.name)]) == p.name {
				return rank
			}
		case p.suffix:
			if len(name) > len(p.name) && string(name[len(name)-len(p.name):]) == p.name {
				return rank
			}
		default:
			if string(name) == p.name {
				return rank
			}
		}
	}
	return limit
}

// jwtClaims are the claims identifying a JWT's subject, by precedence.
var jwtClaims = [...]string{"sub", "client_id", "azp", "appid", "oid", "uid", "user_id", "email", "preferred_username", "username", "upn"}

const maxJWT = 16 << 10

// jwtActor decodes tok as a JWS compact JWT (without verifying it).
func (r *Resolver) jwtActor(tok []byte) (Actor, bool) {
	if len(tok) < 10 || len(tok) > maxJWT || tok[0] != 'e' { // '{' encodes as 'e'
		return Actor{}, false
	}
	d1, d2 := -1, -1
	for i, c := range tok {
		if c == '.' {
			if d1 < 0 {
				d1 = i
			} else if d2 < 0 {
				d2 = i
			} else {
				return Actor{}, false // JWE (5 parts) or junk
			}
		}
	}
	if d1 <= 0 || d2 <= d1+1 {
		return Actor{}, false
	}
	h := r.pool.Get().(*hasher)
	defer r.put(h)
	hdr, ok := b64url(h, tok[:d1], 0)
	if !ok || !jsonHasKey(hdr, "alg") {
		return Actor{}, false
	}
	payload, ok := b64url(h, tok[d1+1:d2], len(hdr))
	if p := trimSpace(payload); !ok || len(p) == 0 || p[0] != '{' {
		return Actor{}, false // not a JSON object (or blank: a hostile token)
	}
	var iss, claim jsonMember
	hasIss, rank := false, len(jwtClaims)
	it := newJSONIter(payload)
	var m jsonMember
	for it.next(&m) {
		if m.Depth != 1 || m.KeyEsc || m.Container || m.Truncated || (!m.Str && !isNumber(m.Val)) || len(m.Val) == 0 {
			continue
		}
		if string(m.Key) == "iss" && m.Str {
			iss, hasIss = m, true
			continue
		}
		for i, c := range jwtClaims[:rank] {
			if string(m.Key) == c {
				claim, rank = m, i
				break
			}
		}
		if rank == 0 && hasIss {
			break // nothing better can follow
		}
	}
	a := Actor{Kind: KindJWT}
	if hasIss {
		if iss.ValEsc {
			var ib [256]byte
			raw := iss.Val
			if len(raw) > len(ib) {
				raw = raw[:len(ib)] // unescaping never lengthens
			}
			a.Issuer = r.intern(jsonstr.Unescape(ib[:0], raw))
		} else {
			a.Issuer = r.intern(iss.Val)
		}
	}
	if rank == len(jwtClaims) {
		h.begin(DomainJWTToken)
		h.write(tok)
		a.ID = h.sumString()
		return a, true
	}
	h.begin(DomainJWT)
	if hasIss {
		h.writeBytesOrUnescape(iss.Val, iss.ValEsc)
	}
	h.writeString("|")
	h.writeBytesOrUnescape(claim.Val, claim.ValEsc)
	a.ID = h.sumString()
	return a, true
}

// writeBytesOrUnescape writes a JSON string body, unescaped when esc (in
// chunks through h.buf, so that h.scratch stays put).
func (h *hasher) writeBytesOrUnescape(b []byte, esc bool) {
	if !esc {
		h.write(b)
		return
	}
	var tmp [64]byte
	for len(b) > 0 {
		n := len(b)
		if n > 48 {
			n = 48
			// do not split an escape sequence
			for k := n - 1; k >= n-6 && k >= 0; k-- {
				if b[k] == '\\' {
					n = k
					break
				}
			}
			if n == 0 {
				n = len(b)
				if n > 48 {
					n = 48
				}
			}
		}
		out := jsonstr.Unescape(tmp[:0], b[:n])
		m := copy(h.buf[:], out)
		h.h.Write(h.buf[:m])
		b = b[n:]
	}
}

// b64url decodes base64url (padding optional) into h.scratch at off.
func b64url(h *hasher, s []byte, off int) ([]byte, bool) {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	n := base64.RawURLEncoding.DecodedLen(len(s))
	if cap(h.scratch) < off+n {
		ns := make([]byte, off+n, 2*(off+n))
		copy(ns, h.scratch[:off])
		h.scratch = ns
	}
	h.scratch = h.scratch[:off+n]
	n, err := base64.RawURLEncoding.Decode(h.scratch[off:], s)
	if err != nil {
		return nil, false
	}
	h.scratch = h.scratch[:off+n]
	return h.scratch[off : off+n], true
}

func jsonHasKey(b []byte, key string) bool {
	it := newJSONIter(b)
	var m jsonMember
	for it.next(&m) {
		if m.Depth == 1 && string(m.Key) == key {
			return true
		}
	}
	return false
}

func isNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+') {
			return false
		}
	}
	return true
}

const maxIssuer = 200

// intern returns iss as a string, shared between calls for the first
// distinct issuers seen.
func (r *Resolver) intern(iss []byte) string {
	if len(iss) > maxIssuer {
		iss = iss[:maxIssuer]
		for len(iss) > 0 && !utf8.Valid(iss) {
			iss = iss[:len(iss)-1]
		}
	}
	r.mu.RLock()
	s, ok := r.issuers[string(iss)]
	r.mu.RUnlock()
	if ok {
		return s
	}
	s = strings.ToValidUTF8(string(iss), "\uFFFD")
	r.mu.Lock()
	if len(r.issuers) < 1024 {
		r.issuers[string(iss)] = s
	}
	r.mu.Unlock()
	return s
}
