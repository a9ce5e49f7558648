package identity

import (
	"strconv"
	"strings"
)

// Param is a path parameter extracted by the endpoint templater: Name is the
// template's name ("id" for /users/{id}), Value the raw segment, Numeric set
// when the templater classified it as a number.
type Param struct {
	Name, Value string
	Numeric     bool
}

// ObjectID is one object identifier a request touched. A decimal value that
// fits 64 bits is kept as Number (IsNumber), so that sequential enumeration
// is visible; any other value is Hash, DomainObject's keyed hash of it
// (hex/UUID-shaped values lower-cased first). The hash does not depend on
// Param, so one object seen under two names (/orders/{id}, ?order_id=) is one
// value.
type ObjectID struct {
	Param    string
	Number   uint64
	IsNumber bool
	Hash     string
}

// MaxObjectIDs bounds what one ObjectIDs call appends.
const MaxObjectIDs = 64

// ObjectIDs appends to dst the object identifiers in pathParams (every one:
// the templater made them variables) and in rawQuery (the parameters with
// ID-like names, see IsIDParam; values percent-decoded, '+' as space; a
// comma list "ids=1,2,3" gives one ObjectID per element). Empty values are
// skipped, at most MaxObjectIDs are appended. Query parameter names are
// substrings of rawQuery (not copied) unless percent-encoded.
func (r *Resolver) ObjectIDs(pathParams []Param, rawQuery string, dst []ObjectID) []ObjectID {
	n := 0
	for _, p := range pathParams {
		if n == MaxObjectIDs {
			return dst
		}
		if p.Value == "" {
			continue
		}
		dst = append(dst, r.objectID(p.Name, p.Value, false))
		n++
	}
	for q := rawQuery; len(q) > 0 && n < MaxObjectIDs; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		name, val, _ := strings.Cut(pair, "=")
		if val == "" || len(name) > 3*64 {
			continue
		}
		if needsDecode(name, true) {
			var nb [64]byte
			dn := percentDecode(nb[:0], name, true)
			if !IsIDParam(string(dn)) {
				continue
			}
			name = string(dn)
		} else if !IsIDParam(name) {
			continue
		}
		for val != "" && n < MaxObjectIDs {
			var v string
			v, val, _ = strings.Cut(val, ",")
			if v == "" {
				continue
			}
			dst = append(dst, r.objectID(name, v, true))
			n++
		}
	}
	return dst
}

func (r *Resolver) objectID(name, v string, query bool) ObjectID {
	if query && needsDecode(v, true) {
		h := r.pool.Get().(*hasher)
		h.scratch = percentDecode(h.scratch[:0], v, true)
		id := r.objectIDBytes(h, name, h.scratch)
		r.put(h)
		return id
	}
	if num, ok := parseDecimal(v); ok {
		return ObjectID{Param: name, Number: num, IsNumber: true}
	}
	h := r.pool.Get().(*hasher)
	h.scratch = append(h.scratch[:0], v...)
	id := r.objectIDBytes(h, name, h.scratch)
	r.put(h)
	return id
}

func (r *Resolver) objectIDBytes(h *hasher, name string, v []byte) ObjectID {
	if len(v) <= 20 {
		if num, ok := parseDecimal(string(v)); ok {
			return ObjectID{Param: name, Number: num, IsNumber: true}
		}
	}
	hexish := len(v) >= 16
	for _, c := range v {
		if !(('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') || c == '-') {
			hexish = false
			break
		}
	}
	if hexish {
		for i, c := range v {
			v[i] = lower(c)
		}
	}
	h.begin(DomainObject)
	h.write(v)
	return ObjectID{Param: name, Hash: h.sumString()}
}

// parseDecimal parses 1 to 20 ASCII digits (leading zeros allowed) that fit
// in a uint64.
func parseDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

var idExact = [...]string{"id", "ids", "uuid", "guid", "uid", "oid", "pk", "user", "account", "order", "customer", "invoice",
	"document", "doc", "file", "item", "product", "record", "object", "ticket", "transaction", "payment", "profile",
	"member", "patient", "employee", "tenant", "org", "organization", "project", "team", "group", "message", "post",
	"comment", "card", "contract", "policy", "claim", "shipment", "booking", "reservation", "case", "report", "asset", "device"}

var idExactSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(idExact))
	for _, e := range idExact {
		m[e] = struct{}{}
	}
	return m
}()

var idExclude = [...]string{"token", "secret", "pass", "sess", "sig", "nonce", "csrf", "xsrf", "key", "auth", "trace",
	"span", "request", "correlation", "idempot", "callback", "redirect", "utm_", "version", "client"}

// idExcludeAt indexes idExclude by first byte, so a name is checked in one
// pass instead of once per excluded word.
var idExcludeAt = func() (t [256][]string) {
	for _, x := range idExclude {
		t[x[0]] = append(t[x[0]], x)
	}
	return t
}()

var idSuffixes = [...]string{"_id", "-id", ".id", "_ids", "_uuid", "-uuid", "_guid", "_no", "_number"}

// IsIDParam reports whether a query parameter name looks like it carries
// object identifiers. Within brackets ("filter[user_id]") the innermost name
// counts. A name is ID-like when it is, case-insensitively, one of id, ids,
// uuid, guid, uid, pk, or a resource noun (user, account, order, customer,
// invoice, document, file, item, product, ticket, payment, profile, tenant,
// project, …), or ends in _id, -id, .id, _ids, _uuid, _guid, _no, _number, or
// in camel case Id, ID, Ids, IDs, Uuid after a lower-case letter or digit
// (userId, orderID) — unless it contains token, secret, pass, sess, sig,
// nonce, csrf, key, auth, trace, span, request, correlation, idempot,
// callback, redirect, utm_, version or client (credentials, and per-request
// or per-app values that are no objects).
func IsIDParam(name string) bool {
	if strings.HasSuffix(name, "]") {
		if i := strings.LastIndexByte(name, '['); i >= 0 {
			name = name[i+1 : len(name)-1]
		}
	}
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	var lb [64]byte
	for i := 0; i < len(name); i++ {
		lb[i] = lower(name[i])
	}
	l := lb[:len(name)]
	for i, c := range l {
		for _, x := range idExcludeAt[c] {
			if len(l)-i >= len(x) && string(l[i:i+len(x)]) == x {
				return false
			}
		}
	}
	if _, ok := idExactSet[string(l)]; ok {
		return true
	}
	for _, s := range idSuffixes {
		if len(l) > len(s) && string(l[len(l)-len(s):]) == s {
			return true
		}
	}
	for _, s := range [...]string{"Id", "ID", "Ids", "IDs", "Uuid", "UUID"} {
		if len(name) > len(s) && strings.HasSuffix(name, s) {
			c := name[len(name)-len(s)-1]
			if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
				return true
			}
		}
	}
	return false
}
