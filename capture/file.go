package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Source delivers captured frames, one per ReadPacket call. data is valid
// until the next call. ReadPacket returns io.EOF at the end of a file; a file
// cut short returns an error wrapping ErrTruncated after the last whole
// packet, which callers report as a warning rather than a failure.
type Source interface {
	ReadPacket() (data []byte, ci CaptureInfo, err error)
	Close() error
}

// CaptureInfo describes one captured frame.
type CaptureInfo struct {
	Timestamp     int64 // Unix nanoseconds
	CaptureLength int   // bytes captured (len(data))
	Length        int   // bytes on the wire; more than CaptureLength when snaplen cut the frame
	LinkType      layers.LinkType
}

// Progresser is implemented by sources that know how far through their
// input they are, for a progress line. read and total are bytes of the file
// on disk (compressed bytes for a gzip file); total is 0 when unknown.
type Progresser interface {
	Progress() (read, total int64)
}

// ErrTruncated marks a capture file that ends in the middle of a packet or
// block, as files copied from a running capture do.
var ErrTruncated = errors.New("capture file truncated")

// File magics.
const (
	magicPcapMicro   = 0xa1b2c3d4
	magicPcapNano    = 0xa1b23c4d
	magicPcapngBlock = 0x0a0d0d0a // section header block type, same in both byte orders
)

// OpenFile opens a pcap or pcapng capture, gzip-compressed or not, choosing
// the format by its magic number rather than its name.
func OpenFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture/file.go: open capture: %w", err)
	}
	src, err := newFileSource(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

type fileSource struct {
	path    string
	f       *os.File
	counter *countingReader
	total   int64
	gz      *gzip.Reader

	pcap  *pcapgo.Reader
	ng    *pcapgo.NgReader
	links []layers.LinkType // per pcapng interface
	n     int               // packets delivered
}

func newFileSource(path string, f *os.File) (*fileSource, error) {
	s := &fileSource{path: path, f: f, counter: &countingReader{r: f}}
	if fi, err := f.Stat(); err == nil {
		s.total = fi.Size()
	}
	br := bufio.NewReaderSize(s.counter, 1<<16)
	magic, err := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if s.gz, err = gzip.NewReader(br); err != nil {
			return nil, fmt.Errorf("capture/file.go: %s: gzip header: %w", path, err)
		}
		br = bufio.NewReaderSize(s.gz, 1<<16)
		magic, err = br.Peek(4)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("capture/file.go: %s: file too short to be a capture (%d bytes)", path, len(magic))
		}
		return nil, fmt.Errorf("capture/file.go: %s: read header: %w", path, err)
	}
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case le == magicPcapngBlock:
		s.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("capture/file.go: %s: pcapng header: %w", path, err)
		}
	case le == magicPcapMicro || be == magicPcapMicro || le == magicPcapNano || be == magicPcapNano:
		s.pcap, err = pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture/file.go: %s: pcap header: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("capture/file.go: %s: not a pcap or pcapng file (magic %x); convert it with `editcap -F pcap`", path, magic)
	}
	return s, nil
}

// ReadPacket implements Source.
func (s *fileSource) ReadPacket() ([]byte, CaptureInfo, error) {
	var (
		data []byte
		gci  gopacket.CaptureInfo
		err  error
		link layers.LinkType
	)
	if s.pcap != nil {
		data, gci, err = s.pcap.ZeroCopyReadPacketData()
		link = s.pcap.LinkType()
	} else {
		data, gci, err = s.ng.ZeroCopyReadPacketData()
		if err == nil {
			link, err = s.ngLink(gci.InterfaceIndex)
		}
	}
	if err != nil {
		return nil, CaptureInfo{}, s.wrapErr(err)
	}
	s.n++
	return data, CaptureInfo{
		Timestamp:     gci.Timestamp.UnixNano(),
		CaptureLength: gci.CaptureLength,
		Length:        gci.Length,
		LinkType:      link,
	}, nil
}

// ngLink returns the link type of a pcapng interface; interfaces can be
// declared anywhere in the file, so the cache grows as they appear.
func (s *fileSource) ngLink(i int) (layers.LinkType, error) {
	if i < len(s.links) {
		return s.links[i], nil
	}
	s.links = s.links[:0]
	for j := range s.ng.NInterfaces() {
		iface, err := s.ng.Interface(j)
		if err != nil {
			return 0, err
		}
		s.links = append(s.links, iface.LinkType)
	}
	if i >= len(s.links) {
		return 0, fmt.Errorf("packet on undeclared interface %d", i)
	}
	return s.links[i], nil
}

func (s *fileSource) wrapErr(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum) && s.gz != nil:
		return fmt.Errorf("capture/file.go: %s: ends inside a packet after %d whole packets (copied while still being written?): %w", s.path, s.n, ErrTruncated)
	}
	return fmt.Errorf("capture/file.go: %s: after %d packets: %w", s.path, s.n, err)
}

// Progress implements Progresser.
func (s *fileSource) Progress() (read, total int64) { return s.counter.n.Load(), s.total }

// Close implements Source.
func (s *fileSource) Close() error {
	if s.gz != nil {
		s.gz.Close()
	}
	return s.f.Close()
}

// countingReader counts bytes read from the file, for Progress. The count
// is atomic so a progress line may be printed from another goroutine; it is
// updated once per 64 KiB buffer fill, not per packet.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
