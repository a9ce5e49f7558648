package reassembly

import "bytes"

// pageSize is the unit of out-of-order buffering and of its accounting.
// Contiguous out-of-order segments are packed into the same page, so a run of
// 1460-byte segments after a hole costs little more than its bytes.
const pageSize = 4096

// page holds bytes [seq, seq+n) of one direction, received ahead of a hole.
// A direction's pages form a list sorted by seq, never overlapping, all after
// the next expected byte.
type page struct {
	seq  uint32
	n    int
	next *page
	buf  [pageSize]byte
}

func (p *page) end() uint32 { return p.seq + uint32(p.n) }

// allocPage takes a page from the free list for c, keeping the memory
// accounting and the list of connections holding buffers up to date.
func (a *Assembler) allocPage(c *conn, h *half) *page {
	var p *page
	if n := len(a.freePages); n > 0 {
		p = a.freePages[n-1]
		a.freePages = a.freePages[:n-1]
	} else {
		p = new(page)
	}
	if c.pages() == 0 {
		a.buffering.pushBack(c)
	}
	h.pages++
	a.buffered += pageSize
	return p
}

func (a *Assembler) freePage(c *conn, h *half, p *page) {
	p.next, p.n = nil, 0
	a.freePages = append(a.freePages, p)
	h.pages--
	a.buffered -= pageSize
	if c.pages() == 0 {
		a.buffering.remove(c)
	}
}

// insert buffers data, which starts at seq s after h.next. Bytes already
// buffered win over the new ones (first received wins, as most TCP stacks
// keep what they queued first); overlaps, and overlaps whose bytes differ,
// are counted.
func (a *Assembler) insert(c *conn, h *half, s uint32, data []byte) {
	var prev *page
	cur := h.head
	overlap, differ := false, false
	for len(data) > 0 {
		for cur != nil && !seqLT(s, cur.end()) {
			prev, cur = cur, cur.next
		}
		if cur != nil && !seqLT(s, cur.seq) {
			off := int(s - cur.seq)
			k := min(cur.n-off, len(data))
			overlap = true
			a.stats.OverlapBytes += uint64(k)
			if !bytes.Equal(cur.buf[off:off+k], data[:k]) {
				differ = true
			}
			s += uint32(k)
			data = data[k:]
			continue
		}
		room := len(data)
		if cur != nil {
			room = min(room, int(cur.seq-s))
		}
		var n int
		if prev != nil && prev.end() == s && prev.n < pageSize {
			n = copy(prev.buf[prev.n:], data[:room])
			prev.n += n
		} else {
			p := a.allocPage(c, h)
			p.seq = s
			n = copy(p.buf[:], data[:room])
			p.n = n
			p.next = cur
			if prev == nil {
				h.head = p
			} else {
				prev.next = p
			}
			prev = p
		}
		s += uint32(n)
		data = data[n:]
	}
	if overlap {
		a.stats.Overlaps++
		if differ {
			a.stats.OverlapsDiffer++
		}
	}
}
