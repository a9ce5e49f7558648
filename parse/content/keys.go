package content

import "bytes"

// Key flags: what a JSON key or form field name says about its value.
const (
	fPassword  = 1 << iota // named like a password
	fSecret                // named like a credential
	fPhone                 // named like a phone number
	fSSN                   // named like a US SSN
	fAWSSecret             // named like an AWS secret access key
	fWrapper               // a top-level records wrapper (data, items, …)
	fEntityID              // a top-level id key: the object is one record
)

var wrapperKeys = [...]string{"data", "items", "results", "records", "users", "rows", "hits", "entries", "content"}

// keyFlags classifies a key; path is the field path it ends.
func keyFlags(key []byte, path string) uint8 {
	var f uint8
	for _, w := range wrapperKeys {
		if path == w {
			f |= fWrapper
		}
	}
	switch path {
	case "id", "_id", "uuid", "guid":
		f |= fEntityID
	}
	// norm: the key's letters and digits, lower-cased; words: where each
	// word of it ends (split at other bytes and at lower→upper changes).
	var normBuf [maxKeyLen]byte
	var ends [16]uint8
	norm, nw := normBuf[:0], 0
	prevLower := false
	for _, c := range key {
		if len(norm) == maxKeyLen {
			break
		}
		lower := c >= 'a' && c <= 'z'
		upper := c >= 'A' && c <= 'Z'
		if !lower && !upper && !isDigit(c) {
			if len(norm) > 0 && (nw == 0 || int(ends[nw-1]) != len(norm)) && nw < len(ends) {
				ends[nw] = uint8(len(norm))
				nw++
			}
			prevLower = false
			continue
		}
		if upper {
			if prevLower && nw < len(ends) {
				ends[nw] = uint8(len(norm))
				nw++
			}
			c += 'a' - 'A'
		}
		prevLower = lower
		norm = append(norm, c)
	}
	if len(norm) == 0 {
		return f
	}
	if (nw == 0 || int(ends[nw-1]) != len(norm)) && nw < len(ends) {
		ends[nw] = uint8(len(norm))
		nw++
	}
	word := func(k int) string {
		s := 0
		if k > 0 {
			s = int(ends[k-1])
		}
		return string(norm[s:ends[k]])
	}
	hasWord := func(ws ...string) bool {
		for k := 0; k < nw; k++ {
			for _, w := range ws {
				if word(k) == w {
					return true
				}
			}
		}
		return false
	}
	last, prev := word(nw-1), ""
	if nw > 1 {
		prev = word(nw - 2)
	}
	has := func(s string) bool { return bytes.Contains(norm, []byte(s)) }
	suffix := func(s string) bool { return bytes.HasSuffix(norm, []byte(s)) }

	if (has("password") || has("passwd") || has("passphrase") || hasWord("pwd") || last == "pass") && !passwordMeta(last) {
		f |= fPassword
	}
	for _, s := range secretSuffixes {
		if suffix(s) {
			f |= fSecret
			break
		}
	}
	if last == "token" && tokenNotSecret(prev) || suffix("csrftoken") || suffix("xsrftoken") {
		f &^= fSecret
	}
	if has("phone") || has("mobile") || has("msisdn") || hasWord("tel", "cell", "fax", "whatsapp") {
		f |= fPhone
	}
	if hasWord("ssn") || has("socialsecurity") {
		f |= fSSN
	}
	if has("awssecret") || suffix("secretaccesskey") {
		f |= fAWSSecret | fSecret
	}
	return f
}

var secretSuffixes = [...]string{
	"apikey", "apisecret", "apitoken", "accesstoken", "refreshtoken", "idtoken",
	"authtoken", "sessiontoken", "bearertoken", "token", "clientsecret", "secret",
	"privatekey", "secretkey", "accesskey", "signingkey", "encryptionkey", "masterkey",
	"credential", "credentials", "authorization",
}

// passwordMeta reports a last word that makes a password-named key
// metadata about the password rather than the password.
func passwordMeta(w string) bool {
	switch w {
	case "at", "on", "date", "time", "timestamp", "expires", "expiry", "expiration", "expired",
		"policy", "policies", "required", "reset", "length", "strength", "hint", "changed",
		"updated", "enabled", "rules", "url", "type", "age", "set", "count", "attempts",
		"history", "last", "algorithm", "format", "min", "max", "complexity", "valid", "score",
		"status", "version", "id", "protected", "less", "login", "flow", "field":
		return true
	}
	return false
}

// tokenNotSecret reports the words before "token" that name pagination or
// anti-CSRF tokens.
func tokenNotSecret(w string) bool {
	switch w {
	case "page", "next", "prev", "previous", "continuation", "sync", "cursor", "pagination",
		"resume", "csrf", "xsrf", "device", "push", "fcm", "apns", "notification":
		return true
	}
	return false
}
