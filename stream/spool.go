package stream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Message is one record for Kafka: the key (the endpoint, so that one
// endpoint's events go to one partition and one detector) and the value
// (an encoded event).
type Message struct {
	Key, Value []byte
}

// spool keeps messages on disk while Kafka is unreachable, in order, in
// segment files of at most segmentBytes, and all of them within maxBytes.
// A segment is written, closed, then replayed whole and deleted once Kafka
// acknowledged it. Not safe for concurrent use.
type spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64

	segments []uint64 // sequence numbers of closed segments, oldest first
	size     int64    // bytes in all segments
	next     uint64   // sequence number of the next segment
	cur      *os.File
	curW     *bufio.Writer
	curSize  int64
}

const segmentSuffix = ".spool"

// openSpool opens (creating) dir and picks up the segments a previous run
// left, so that they are sent first.
func openSpool(dir string, maxBytes, segmentBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, segmentBytes: segmentBytes}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		seq, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), segmentSuffix), 10, 64)
		if err != nil || !strings.HasSuffix(e.Name(), segmentSuffix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		s.segments = append(s.segments, seq)
		s.size += info.Size()
		s.next = max(s.next, seq+1)
	}
	slices.Sort(s.segments)
	return s, nil
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segmentSuffix))
}

// add appends a message and reports whether it fit under maxBytes.
func (s *spool) add(m Message) (bool, error) {
	n := int64(8 + len(m.Key) + len(m.Value))
	if s.size+s.curSize+n > s.maxBytes {
		return false, nil
	}
	if s.cur == nil {
		f, err := os.OpenFile(s.path(s.next), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
		if err != nil {
			return false, fmt.Errorf("spool: %w", err)
		}
		s.cur, s.curW, s.curSize = f, bufio.NewWriterSize(f, 256<<10), 0
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(m.Key)))
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(m.Value)))
	for _, b := range [][]byte{hdr[:], m.Key, m.Value} {
		if _, err := s.curW.Write(b); err != nil {
			return false, fmt.Errorf("spool: %w", err)
		}
	}
	s.curSize += n
	if s.curSize >= s.segmentBytes {
		return true, s.seal()
	}
	return true, nil
}

// seal closes the segment being written, making it replayable.
func (s *spool) seal() error {
	if s.cur == nil {
		return nil
	}
	err := s.curW.Flush()
	if err == nil {
		err = s.cur.Sync()
	}
	if cerr := s.cur.Close(); err == nil {
		err = cerr
	}
	s.segments = append(s.segments, s.next)
	s.size += s.curSize
	s.next++
	s.cur, s.curW, s.curSize = nil, nil, 0
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// empty reports whether nothing is spooled.
func (s *spool) empty() bool { return len(s.segments) == 0 && s.cur == nil }

// oldest returns the messages of the oldest segment (sealing the one being
// written when it is the only one).
func (s *spool) oldest() ([]Message, error) {
	if len(s.segments) == 0 {
		if err := s.seal(); err != nil {
			return nil, err
		}
		if len(s.segments) == 0 {
			return nil, nil
		}
	}
	b, err := os.ReadFile(s.path(s.segments[0]))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []Message
	for len(b) > 0 {
		if len(b) < 8 {
			return out, fmt.Errorf("spool segment %d: %w (its last record was cut)", s.segments[0], io.ErrUnexpectedEOF)
		}
		k, v := int(binary.BigEndian.Uint32(b[:4])), int(binary.BigEndian.Uint32(b[4:8]))
		if len(b) < 8+k+v {
			return out, fmt.Errorf("spool segment %d: %w (its last record was cut)", s.segments[0], io.ErrUnexpectedEOF)
		}
		out = append(out, Message{Key: b[8 : 8+k], Value: b[8+k : 8+k+v]})
		b = b[8+k+v:]
	}
	return out, nil
}

// dropOldest deletes the oldest segment, once its messages were sent.
func (s *spool) dropOldest() error {
	if len(s.segments) == 0 {
		return nil
	}
	p := s.path(s.segments[0])
	info, err := os.Stat(p)
	if err == nil {
		s.size -= info.Size()
		err = os.Remove(p)
	}
	s.segments = s.segments[1:]
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// close seals what is being written, so that the next run sends it.
func (s *spool) close() error { return s.seal() }
