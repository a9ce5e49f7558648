package tlshello

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
)

// ext is one extension of a synthetic ClientHello.
type ext struct {
	typ  uint16
	data []byte
}

// helloMsg builds a ClientHello handshake message (header included).
func helloMsg(legacy uint16, ciphers []uint16, exts []ext) []byte {
	body := binary.BigEndian.AppendUint16(nil, legacy)
	body = append(body, bytes.Repeat([]byte{0x55}, 32)...) // random
	body = append(body, 0)                                 // session id
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(ciphers)))
	for _, c := range ciphers {
		body = binary.BigEndian.AppendUint16(body, c)
	}
	body = append(body, 1, 0) // compression: null
	if exts != nil {
		var e []byte
		for _, x := range exts {
			e = binary.BigEndian.AppendUint16(e, x.typ)
			e = binary.BigEndian.AppendUint16(e, uint16(len(x.data)))
			e = append(e, x.data...)
		}
		body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
		body = append(body, e...)
	}
	return append([]byte{typeClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// records wraps a handshake message in handshake records of at most size
// bytes each, with record version ver.
func records(msg []byte, size int, ver uint16) []byte {
	var out []byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		out = append(out, typeHandshake, byte(ver>>8), byte(ver), byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// handshakeBytes extracts the concatenated payload of the handshake records
// at the start of b, the test's own (simpler, trusting) record reader.
func handshakeBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var out []byte
	for len(b) >= 5 && b[0] == typeHandshake {
		n := int(binary.BigEndian.Uint16(b[3:]))
		if len(b) < 5+n {
			t.Fatalf("truncated record")
		}
		out = append(out, b[5:5+n]...)
		b = b[5+n:]
	}
	return out
}

func sniData(name string) []byte {
	d := binary.BigEndian.AppendUint16(nil, uint16(len(name)+3))
	d = append(d, 0)
	d = binary.BigEndian.AppendUint16(d, uint16(len(name)))
	return append(d, name...)
}

func alpnData(protos ...string) []byte {
	var l []byte
	for _, p := range protos {
		l = append(l, byte(len(p)))
		l = append(l, p...)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(l))), l...)
}

func u16List(vs ...uint16) []byte {
	d := binary.BigEndian.AppendUint16(nil, uint16(2*len(vs)))
	for _, v := range vs {
		d = binary.BigEndian.AppendUint16(d, v)
	}
	return d
}

func versionsData(vs ...uint16) []byte {
	d := []byte{byte(2 * len(vs))}
	for _, v := range vs {
		d = binary.BigEndian.AppendUint16(d, v)
	}
	return d
}

// raw returns JA4_r (the fingerprint before hashing) from the lists Parse
// kept, to compare with tools that print it.
func raw(h *Hello) string {
	s := h.JA4[:10] + "_" + join(h.ciphers) + "_" + join(h.exts)
	if len(h.sigs) > 0 {
		s += "_" + join(h.sigs)
	}
	return s
}

func join(l []uint16) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprintf("%04x", v)
	}
	return strings.Join(s, ",")
}

// refHash is JA4's truncated hash, computed the plain way.
func refHash(s string) string {
	if s == "" {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

// recordingConn keeps what is read through it.
type recordingConn struct {
	net.Conn
	read []byte
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read = append(c.read, b[:n]...)
	return n, err
}

var errStop = errors.New("stop after ClientHello")

// goHello runs a crypto/tls client with cfg against a crypto/tls server
// over a net.Pipe and returns the client's first flight as the server read
// it, with the server's own parse of the hello: an independent reading to
// check ours against.
func goHello(t testing.TB, cfg *tls.Config) ([]byte, *tls.ClientHelloInfo) {
	t.Helper()
	c, s := net.Pipe()
	rec := &recordingConn{Conn: s}
	var info *tls.ClientHelloInfo
	srv := tls.Server(rec, &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		cp := *chi
		cp.Extensions = slices.Clone(chi.Extensions)
		info = &cp
		return nil, errStop
	}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(c, cfg).Handshake()
		c.Close()
	}()
	srv.Handshake()
	s.Close()
	io.Copy(io.Discard, c) // unblock a client still writing
	<-done
	if info == nil {
		t.Fatal("the server saw no ClientHello")
	}
	return rec.read, info
}

// expectedJA4 computes JA4 from crypto/tls's reading of the hello.
func expectedJA4(info *tls.ClientHelloInfo) string {
	var b strings.Builder
	b.WriteString("t")
	v := slices.Max(info.SupportedVersions)
	b.WriteString(map[uint16]string{0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}[v])
	if slices.Contains(info.Extensions, 0) {
		b.WriteString("d")
	} else {
		b.WriteString("i")
	}
	fmt.Fprintf(&b, "%02d%02d", min(99, len(info.CipherSuites)), min(99, len(info.Extensions)))
	if len(info.SupportedProtos) == 0 {
		b.WriteString("00")
	} else {
		p := info.SupportedProtos[0]
		b.WriteString(p[:1] + p[len(p)-1:])
	}
	ciphers := slices.Sorted(slices.Values(info.CipherSuites))
	var exts []uint16
	for _, e := range info.Extensions {
		if e != 0 && e != 16 {
			exts = append(exts, e)
		}
	}
	slices.Sort(exts)
	var sigs []uint16
	for _, s := range info.SignatureSchemes {
		sigs = append(sigs, uint16(s))
	}
	c := join(exts)
	if len(sigs) > 0 {
		c += "_" + join(sigs)
	}
	fmt.Fprintf(&b, "_%s_%s", refHash(join(ciphers)), refHash(c))
	return b.String()
}
