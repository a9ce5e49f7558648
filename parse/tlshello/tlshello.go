// Package tlshello reads what a passive observer can still see of an
// encrypted flow: the client's first flight. From the TLS ClientHello at the
// start of a client stream it extracts the server name (SNI), the ALPN
// protocols offered, the highest TLS version offered and the JA4 fingerprint
// of the client (FoxIO's JA4, TLS-over-TCP variant).
//
// Parse works on the bytes accumulated so far from the start of the client
// stream. It returns ErrNeedMore until the whole ClientHello is there, so a
// caller appends each new segment's bytes and calls Parse again; a repeated
// call only walks the record headers until the hello is complete, which is
// cheap. A ClientHello split across several TLS records (record-layer
// fragmentation) is reassembled.
//
// Parse never reads out of bounds, never panics on any input and never
// returns ErrNeedMore once MaxHelloBytes bytes are given, so a caller that
// buffers until Parse stops asking for more is bounded.
package tlshello

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
)

// MaxHelloBytes is the most a caller should buffer from the start of a
// client stream. Real ClientHellos are well under it (browsers send 0.5–2 KB,
// post-quantum key shares included); Parse gives up with ErrTooLarge when the
// hello does not fit in it, records and headers included.
const MaxHelloBytes = 16 << 10

var (
	// ErrNeedMore means the bytes are the start of a TLS ClientHello that is
	// not complete yet.
	ErrNeedMore = errors.New("tlshello: ClientHello incomplete, need more bytes")
	// ErrNotTLS means the bytes are not a TLS ClientHello, or a malformed
	// one. Every error Parse returns other than ErrNeedMore matches it with
	// errors.Is; the wrapped errors below tell why.
	ErrNotTLS = errors.New("tlshello: not a TLS ClientHello")
	// ErrTooLarge (which matches ErrNotTLS) means the ClientHello, or the
	// records carrying it, does not fit in MaxHelloBytes.
	ErrTooLarge = notTLS("larger than MaxHelloBytes")

	errRecord    = notTLS("not a TLS handshake record")
	errRecordLen = notTLS("record length over 2^14")
	errHandshake = notTLS("first handshake message is not a ClientHello")
	errHello     = notTLS("malformed ClientHello")
	errExtension = notTLS("malformed extension")
)

// reasonError is an ErrNotTLS with a reason.
type reasonError struct{ reason string }

func notTLS(reason string) error { return &reasonError{reason} }

func (e *reasonError) Error() string        { return ErrNotTLS.Error() + ": " + e.reason }
func (e *reasonError) Is(target error) bool { return target == ErrNotTLS }

// Hello is what Parse extracts from a ClientHello. Reuse one Hello across
// calls (one per worker, not per flow): Parse keeps its scratch buffers and
// does not reallocate strings that did not change. The ALPN slice is reused
// by the next successful Parse: copy it to keep it.
type Hello struct {
	// SNI is the first host_name of the server_name extension, as sent (not
	// validated as a host name); empty when there is none.
	SNI string
	// ALPN lists the protocols offered, in order (at most MaxALPN of them).
	ALPN []string
	// Version is the highest non-GREASE version of the supported_versions
	// extension when present, else the ClientHello's legacy version:
	// 0x0304 for TLS 1.3, 0x0303 for TLS 1.2, …, 0x0300 for SSL 3.0.
	Version uint16
	// JA4 is the JA4 fingerprint, e.g. "t13d1516h2_8daaf6152771_e5627efa2ab1".
	JA4 string
	// CipherCount and ExtensionCount count the non-GREASE cipher suites and
	// extensions (not capped at 99 as in JA4).
	CipherCount, ExtensionCount int

	msg     []byte   // the handshake message, when split across records
	ciphers []uint16 // non-GREASE cipher suites, sorted
	exts    []uint16 // non-GREASE extensions but SNI and ALPN, sorted
	sigs    []uint16 // non-GREASE signature algorithms, in order
	text    []byte   // text hashed for JA4
}

// MaxALPN bounds Hello.ALPN: further protocols are checked but not kept
// (JA4 only uses the first).
const MaxALPN = 16

const (
	recordHeaderLen    = 5
	maxRecordLen       = 1 << 14 // TLSPlaintext.length limit
	handshakeHeaderLen = 4
	typeHandshake      = 22
	typeClientHello    = 1
	minHelloBody       = 2 + 32 + 1 + 2 + 1 // version, random, and the four length fields at their smallest

	extServerName          = 0x0000
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
)

// Parse parses the TLS records at the start of a client stream. It returns
// ErrNeedMore when the ClientHello is not complete yet (the caller feeds more
// bytes, bounded by MaxHelloBytes), an error matching ErrNotTLS when the
// bytes are not a TLS handshake or the ClientHello is malformed. Bytes after
// the ClientHello are ignored. h is only written when Parse returns nil.
func Parse(b []byte, h *Hello) error {
	msg, err := h.handshake(b)
	if err != nil {
		return err
	}
	return h.parseHello(msg)
}

// handshake returns the first handshake message (header included) once all
// of it is in b, concatenating its fragments from consecutive handshake
// records when it is split. Everything is checked as soon as its bytes are
// there, so a stream that is not TLS is told apart on its first bytes.
func (h *Hello) handshake(b []byte) ([]byte, error) {
	var hdr [handshakeHeaderLen]byte
	nhdr := 0  // bytes of hdr filled
	got := 0   // handshake bytes seen
	need := -1 // handshake message length, header included, once known
	nrec := 0  // records holding the message
	off := 0   // start of the current record
	var first []byte
	for {
		rest := b[off:]
		if len(rest) >= 1 && rest[0] != typeHandshake {
			return nil, errRecord
		}
		if len(rest) >= 2 && rest[1] != 3 {
			return nil, errRecord
		}
		if len(rest) >= 3 && rest[2] > 4 {
			return nil, errRecord
		}
		if len(rest) < recordHeaderLen {
			return nil, needMore(b)
		}
		n := int(rest[3])<<8 | int(rest[4])
		if n > maxRecordLen {
			return nil, errRecordLen
		}
		frag := rest[recordHeaderLen:min(len(rest), recordHeaderLen+n)]
		if nrec == 0 {
			first = frag
		}
		nrec++
		for _, c := range frag {
			if nhdr == handshakeHeaderLen {
				break
			}
			hdr[nhdr] = c
			nhdr++
			if nhdr == 1 && c != typeClientHello {
				return nil, errHandshake
			}
			if nhdr == handshakeHeaderLen {
				body := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
				if body < minHelloBody {
					return nil, errHello
				}
				if body > MaxHelloBytes-recordHeaderLen-handshakeHeaderLen {
					return nil, ErrTooLarge
				}
				need = handshakeHeaderLen + body
			}
		}
		got += len(frag)
		if need >= 0 && got >= need {
			break
		}
		if len(frag) < n {
			return nil, needMore(b)
		}
		off += recordHeaderLen + n
	}
	if nrec == 1 {
		return first[:need], nil
	}
	// Second pass, once: copy the fragments.
	h.msg = h.msg[:0]
	for off = 0; len(h.msg) < need; {
		n := int(b[off+3])<<8 | int(b[off+4])
		frag := b[off+recordHeaderLen : min(len(b), off+recordHeaderLen+n)]
		h.msg = append(h.msg, frag[:min(len(frag), need-len(h.msg))]...)
		off += recordHeaderLen + n
	}
	return h.msg, nil
}

func needMore(b []byte) error {
	if len(b) >= MaxHelloBytes {
		return ErrTooLarge
	}
	return ErrNeedMore
}

// reader reads big-endian fields, checking bounds.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) u8() int {
	if len(r.b) < 1 {
		r.ok = false
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if len(r.b) < 2 {
		r.ok = false
		return 0
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// vec8 and vec16 read a vector with a 1- or 2-byte length.
func (r *reader) vec8() []byte  { return r.bytes(r.u8()) }
func (r *reader) vec16() []byte { return r.bytes(r.u16()) }

// whole reads a vector with a 2-byte (or 1-byte when short) length that
// must fill r exactly: the layout of every extension body read here.
func whole(data []byte, short bool) ([]byte, bool) {
	r := reader{b: data, ok: true}
	var v []byte
	if short {
		v = r.vec8()
	} else {
		v = r.vec16()
	}
	return v, r.ok && len(r.b) == 0
}

// grease reports a GREASE value (RFC 8701): 0x?a?a with both bytes equal.
func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func (h *Hello) parseHello(msg []byte) error {
	r := reader{b: msg[handshakeHeaderLen:], ok: true}
	legacy := uint16(r.u16())
	r.bytes(32) // random
	if sid := r.vec8(); len(sid) > 32 {
		return errHello
	}
	suites := r.vec16()
	r.vec8() // compression methods
	if !r.ok || len(suites)%2 != 0 || legacy>>8 != 3 {
		return errHello
	}
	var exts []byte
	if len(r.b) > 0 { // extensions are optional before TLS 1.3
		exts = r.vec16()
		if !r.ok || len(r.b) != 0 {
			return errHello
		}
	}

	h.ciphers = h.ciphers[:0]
	for i := 0; i < len(suites); i += 2 {
		if v := uint16(suites[i])<<8 | uint16(suites[i+1]); !grease(v) {
			h.ciphers = append(h.ciphers, v)
		}
	}
	h.exts, h.sigs = h.exts[:0], h.sigs[:0]
	var (
		nexts                = 0
		hasSNI, hasALPN      bool
		sni, alpn            []byte
		version              uint16
		haveSupportedVersion bool
	)
	x := reader{b: exts, ok: true}
	for len(x.b) > 0 {
		typ := uint16(x.u16())
		data := x.vec16()
		if !x.ok {
			return errExtension
		}
		if grease(typ) {
			continue
		}
		nexts++
		switch typ {
		case extServerName:
			if hasSNI {
				break
			}
			hasSNI = true
			if len(data) == 0 {
				break // as servers echo it; tolerated
			}
			list, ok := whole(data, false)
			if !ok {
				return errExtension
			}
			for l := (reader{b: list, ok: true}); len(l.b) > 0; {
				kind := l.u8()
				name := l.vec16()
				if !l.ok {
					return errExtension
				}
				if kind == 0 && sni == nil {
					sni = name
				}
			}
			continue
		case extALPN:
			if hasALPN {
				break
			}
			hasALPN = true
			list, ok := whole(data, false)
			if !ok {
				return errExtension
			}
			for l := (reader{b: list, ok: true}); len(l.b) > 0; {
				l.vec8()
				if !l.ok {
					return errExtension
				}
			}
			alpn = list
			continue
		case extSupportedVersions:
			list, ok := whole(data, true)
			if !ok || len(list)%2 != 0 {
				return errExtension
			}
			for i := 0; i < len(list); i += 2 {
				if v := uint16(list[i])<<8 | uint16(list[i+1]); !grease(v) && v >= version {
					version, haveSupportedVersion = v, true
				}
			}
		case extSignatureAlgorithms:
			list, ok := whole(data, false)
			if !ok || len(list)%2 != 0 {
				return errExtension
			}
			if len(h.sigs) == 0 {
				for i := 0; i < len(list); i += 2 {
					if v := uint16(list[i])<<8 | uint16(list[i+1]); !grease(v) {
						h.sigs = append(h.sigs, v)
					}
				}
			}
		}
		h.exts = append(h.exts, typ)
	}
	// A duplicated SNI or ALPN extension falls through the switch to here;
	// JA4 leaves both out of the extension hash whatever their number.
	h.exts = slices.DeleteFunc(h.exts, func(t uint16) bool { return t == extServerName || t == extALPN })
	if !haveSupportedVersion {
		version = legacy
	}
	slices.Sort(h.ciphers)
	slices.Sort(h.exts)

	// Valid: commit.
	h.Version = version
	h.CipherCount, h.ExtensionCount = len(h.ciphers), nexts
	if string(sni) != h.SNI {
		h.SNI = string(sni)
	}
	h.ALPN = h.ALPN[:0]
	var firstALPN []byte
	for l := (reader{b: alpn, ok: true}); len(l.b) > 0 && len(h.ALPN) < MaxALPN; {
		p := l.vec8()
		if len(h.ALPN) == 0 {
			firstALPN = p
		}
		h.ALPN = append(h.ALPN, protocol(p))
	}
	h.ja4(hasSNI, firstALPN)
	return nil
}

// protocol returns p as a string, without allocating for the common ones.
func protocol(p []byte) string {
	switch string(p) {
	case "h2":
		return "h2"
	case "http/1.1":
		return "http/1.1"
	case "http/1.0":
		return "http/1.0"
	case "h3":
		return "h3"
	case "spdy/3.1":
		return "spdy/3.1"
	case "acme-tls/1":
		return "acme-tls/1"
	}
	return string(p)
}

const hexDigits = "0123456789abcdef"

// ja4 builds the fingerprint from the parsed lists.
func (h *Hello) ja4(sni bool, alpn []byte) {
	var f [36]byte
	f[0] = 't'
	v := versionCode(h.Version)
	f[1], f[2] = v[0], v[1]
	f[3] = 'i'
	if sni {
		f[3] = 'd'
	}
	count2(f[4:6], h.CipherCount)
	count2(f[6:8], h.ExtensionCount)
	f[8], f[9] = alpnChars(alpn)
	f[10] = '_'
	h.hash(f[11:23], h.ciphers, nil)
	f[23] = '_'
	h.hash(f[24:36], h.exts, h.sigs)
	if string(f[:]) != h.JA4 {
		h.JA4 = string(f[:])
	}
}

func count2(dst []byte, n int) {
	n = min(n, 99)
	dst[0], dst[1] = byte('0'+n/10), byte('0'+n%10)
}

func versionCode(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func alnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// alpnChars returns JA4's two ALPN characters for the first ALPN value.
func alpnChars(p []byte) (byte, byte) {
	if len(p) == 0 {
		return '0', '0'
	}
	a, z := p[0], p[len(p)-1]
	if alnum(a) && alnum(z) {
		return a, z
	}
	return hexDigits[a>>4], hexDigits[z&0xf]
}

// hash writes the first 12 hex digits of the sha256 of list (then "_" and
// tail when tail is not empty), each value as 4 lowercase hex digits joined
// by commas; twelve zeros when list is empty.
func (h *Hello) hash(dst []byte, list, tail []uint16) {
	if len(list) == 0 {
		copy(dst, "000000000000")
		return
	}
	h.text = appendList(h.text[:0], list)
	if len(tail) > 0 {
		h.text = append(h.text, '_')
		h.text = appendList(h.text, tail)
	}
	sum := sha256.Sum256(h.text)
	hex.Encode(dst, sum[:6])
}

func appendList(b []byte, list []uint16) []byte {
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
	}
	return b
}
