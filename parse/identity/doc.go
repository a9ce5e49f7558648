// Package identity turns what a request carries into who is calling (Actor),
// which objects it touched (ObjectIDs), whether it is a login and how it
// ended (Login), and which address it came from (ClientIP) — without ever
// keeping a secret.
//
// Every identity that leaves the package is a keyed hash: HMAC-SHA256 keyed
// with Config.Secret over domain || 0x00 || value, truncated to 16 bytes and
// hex-encoded (HashLen characters). The domain (DomainJWT, DomainAPIKey,
// DomainUser, …) separates kinds, so one string used as an API key and as a
// user name gives two unrelated hashes. Tokens, passwords, cookie values, API
// keys and user names are read in place and never copied out; the only clear
// text returned is a JWT's issuer (it names the identity provider, not the
// user), parameter names, and numeric object IDs (kept so that sequential
// enumeration is visible).
//
// A Resolver is safe for concurrent use. Its methods read the http1.Message
// views during the call and keep nothing; the hashing state and scratch
// buffers come from a pool, so the hot paths allocate only the strings they
// return (one per hash).
package identity
