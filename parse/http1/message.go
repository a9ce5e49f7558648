package http1

import "unsafe"

// Header returns the value of the first header named name (matched
// case-insensitively, ASCII), or nil.
func (m *Message) Header(name string) []byte {
	for i := range m.Headers {
		if equalFoldBoth(m.Headers[i].Name, name) {
			return m.Headers[i].Value
		}
	}
	return nil
}

func equalFoldBoth(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		// Bytes that differ match only as the two cases of one letter.
		if x != y && (x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z') {
			return false
		}
	}
	return true
}

// CopyTo deep-copies m into dst, reusing dst's buffers: dst stays valid
// after the Handler call that lent m returns.
func (m *Message) CopyTo(dst *Message) {
	if m == dst {
		return
	}
	size := len(m.Method) + len(m.Target) + len(m.Reason) + len(m.Proto) + len(m.Body)
	for _, h := range m.Headers {
		size += len(h.Name) + len(h.Value)
	}
	buf := dst.buf[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	hdrs := dst.Headers[:0]
	// buf never grows past its capacity below, so earlier views stay put.
	put := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	*dst = *m
	dst.Method, dst.Target = put(m.Method), put(m.Target)
	dst.Reason, dst.Proto = put(m.Reason), put(m.Proto)
	for _, h := range m.Headers {
		hdrs = append(hdrs, Header{Name: put(h.Name), Value: put(h.Value)})
	}
	dst.Headers = hdrs
	dst.Body = put(m.Body)
	dst.buf = buf
}

// Footprint is the bytes of buffers m owns (CopyTo's storage and its
// Headers slice): what a kept copy costs.
func (m *Message) Footprint() int {
	return cap(m.buf) + cap(m.Headers)*int(unsafe.Sizeof(Header{}))
}

// CopySize is the bytes a CopyTo of m into an empty Message allocates.
func (m *Message) CopySize() int {
	size := len(m.Method) + len(m.Target) + len(m.Reason) + len(m.Proto) + len(m.Body)
	for _, h := range m.Headers {
		size += len(h.Name) + len(h.Value)
	}
	return size + len(m.Headers)*int(unsafe.Sizeof(Header{}))
}

// Shrink drops the buffers of a kept copy that are larger than max bytes,
// so that a recycled Message holds little.
func (m *Message) Shrink(max int) {
	if cap(m.buf) > max {
		m.buf = nil
	}
	if cap(m.Headers)*int(unsafe.Sizeof(Header{})) > max {
		m.Headers = nil
	}
}
