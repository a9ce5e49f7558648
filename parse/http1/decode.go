package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/andybalholm/brotli"
	// klauspost's inflate reuses its Huffman tables across Resets (the
	// standard library allocates ~7 times per gzip message) and is ~1.5x
	// faster: see BenchmarkParseResponses/gzip.
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// maxLayers caps stacked codings: real servers use one, evasions stack
// a few (HTTP Evader "gzip;gzip"); each layer costs a decoder.
const maxLayers = 4

// minRatioBase is the least input size the decode-ratio cap is computed on,
// so that tiny, highly compressible bodies (a few hundred bytes of JSON) are
// not flagged as bombs.
const minRatioBase = 1 << 10

type coding uint8

const (
	codingUnknown coding = iota
	codingIdentity
	codingGzip
	codingDeflate
	codingBrotli
	codingChunkedNotLast
)

func codingOf(tok []byte) coding {
	switch {
	case equalFold(tok, "gzip"), equalFold(tok, "x-gzip"):
		return codingGzip
	case equalFold(tok, "deflate"):
		return codingDeflate
	case equalFold(tok, "br"):
		return codingBrotli
	case equalFold(tok, "identity"):
		return codingIdentity
	}
	return codingUnknown
}

// decoder undoes content codings. Its readers are kept and Reset between
// messages: warm decoding allocates only what the libraries must.
type decoder struct {
	src     bytes.Reader
	bufs    [maxLayers]*bufio.Reader
	gz      [maxLayers]*gzip.Reader
	zl      [maxLayers]io.ReadCloser
	fl      [maxLayers]io.ReadCloser
	br      [maxLayers]*brotli.Reader
	scratch []byte
	pool    *Pool // when set, kept bytes grow in its buffers
	denied  bool  // the pool refused to grow the kept bytes
}

var errNoProgress = errors.New("http1: decoder made no progress")

// layer returns a reader undoing c over r, using the slot-i decoders.
func (d *decoder) layer(i int, c coding, r io.Reader) (io.Reader, error) {
	if d.bufs[i] == nil {
		d.bufs[i] = bufio.NewReaderSize(r, 4096)
	} else {
		d.bufs[i].Reset(r)
	}
	br := d.bufs[i]
	switch c {
	case codingGzip:
		if d.gz[i] == nil {
			z, err := gzip.NewReader(br)
			if err != nil {
				return nil, err
			}
			d.gz[i] = z
			return z, nil
		}
		return d.gz[i], d.gz[i].Reset(br)
	case codingDeflate:
		// "deflate" means zlib (RFC 9110 §8.4.1.2), but servers send raw
		// deflate too: a valid zlib header decides.
		if h, _ := br.Peek(2); len(h) == 2 && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			if d.zl[i] == nil {
				z, err := zlib.NewReader(br)
				if err != nil {
					return nil, err
				}
				d.zl[i] = z
				return z, nil
			}
			return d.zl[i], d.zl[i].(zlib.Resetter).Reset(br, nil)
		}
		if d.fl[i] == nil {
			d.fl[i] = flate.NewReader(br)
			return d.fl[i], nil
		}
		return d.fl[i], d.fl[i].(flate.Resetter).Reset(br, nil)
	case codingBrotli:
		if d.br[i] == nil {
			d.br[i] = brotli.NewReader(br)
			return d.br[i], nil
		}
		return d.br[i], d.br[i].Reset(br)
	}
	return nil, errors.New("http1: unknown coding")
}

// run undoes codings (listed in the order they were applied) over in,
// appending the first keepMax decoded bytes to *keep. It stops after limit
// decoded bytes: n is then limit and capped is true.
func (d *decoder) run(codings []coding, in []byte, keep *[]byte, keepMax int, limit int64) (n int64, capped bool, err error) {
	d.src.Reset(in)
	d.denied = false
	var r io.Reader = &d.src
	for i := len(codings) - 1; i >= 0; i-- {
		if r, err = d.layer(len(codings)-1-i, codings[i], r); err != nil {
			return 0, false, err
		}
	}
	if d.scratch == nil {
		d.scratch = make([]byte, 32<<10)
	}
	idle := 0
	for {
		want := min(int64(len(d.scratch)), limit+1-n)
		k, rerr := r.Read(d.scratch[:want])
		if k > 0 {
			idle = 0
			take := int64(k)
			if n+take > limit {
				take, capped = limit-n, true
			}
			if d.pool != nil {
				if !d.pool.appendBounded(keep, d.scratch[:take], keepMax) {
					d.denied = true
				}
			} else if room := keepMax - len(*keep); room > 0 {
				*keep = append(*keep, d.scratch[:min(int64(room), take)]...)
			}
			if n += take; capped {
				return n, true, nil
			}
		}
		switch {
		case rerr == io.EOF:
			return n, false, nil
		case rerr != nil:
			return n, false, rerr
		case k == 0:
			if idle++; idle > 100 {
				return n, false, errNoProgress
			}
		}
	}
}

// decodeBody decodes the buffered encoded body at the message end.
func (p *Parser) decodeBody() {
	m := &p.msg
	limit := min(p.cfg.MaxDecodedBytes, int64(p.cfg.MaxDecodeRatio)*int64(max(len(p.enc), minRatioBase)))
	d := &p.pool.dec
	n, capped, err := d.run(p.codings[:p.ncodings], p.enc, &p.body, p.cfg.BodyKeep, limit)
	m.DecodedLen = n
	if capped || p.bodyCap {
		m.Flags |= FlagBodyCapped
	}
	if d.denied {
		p.notKept()
	}
	if err == nil {
		return
	}
	// A cut input (cap, gap, truncated message) legitimately ends early.
	cut := p.encStop || m.Flags&(FlagTruncated|FlagGap) != 0
	if cut && errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	m.Flags |= FlagDecodeError
	if n == 0 {
		// Nothing decodable: keep the raw bytes, as a body that only
		// claims an encoding (HTTP Evader "te:gzip" over plain bytes).
		m.DecodedLen = -1
		p.body = p.body[:0]
		if !p.pool.appendBounded(&p.body, p.enc, p.cfg.BodyKeep) {
			p.notKept()
		}
	}
}
