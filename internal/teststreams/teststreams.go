// Package teststreams gives tests the reassembled byte streams of a shared
// capture (read in place, never copied), decoded with capture and
// reassembled with parse/reassembly: what a parser downstream of them sees.
package teststreams

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// Conn is one reassembled connection.
type Conn struct {
	// Dirs holds the bytes of each direction, indexed by reassembly.Direction.
	Dirs [2]bytes.Buffer
	// Chunks holds the length of each Data call, per direction: where
	// segments (or reassembled runs) ended.
	Chunks [2][]int
	Gaps   int
}

// Client and Server return the bytes of each direction.
func (c *Conn) Client() []byte { return c.Dirs[reassembly.ClientToServer].Bytes() }
func (c *Conn) Server() []byte { return c.Dirs[reassembly.ServerToClient].Bytes() }

func (c *Conn) Data(dir reassembly.Direction, data []byte, _ int64) {
	c.Dirs[dir].Write(data)
	c.Chunks[dir] = append(c.Chunks[dir], len(data))
}
func (c *Conn) Gap(reassembly.Direction, int, int64) { c.Gaps++ }
func (c *Conn) Close(reassembly.CloseReason, int64)  {}

type factory struct{ conns []*Conn }

func (f *factory) New(capture.Flow, int64) reassembly.Conn {
	c := &Conn{}
	f.conns = append(f.conns, c)
	return c
}

// Read returns the connections of the shared capture rel (a path under
// ../shared/pcaps) that carried any data, in the order they opened.
func Read(t testing.TB, rel string) []*Conn {
	t.Helper()
	src, err := capture.OpenFile(filepath.Join(sharedpcaps.Root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := capture.NewDecoder(capture.DecoderConfig{})
	var f factory
	asm := reassembly.New(reassembly.Config{}, &f)
	var pkt capture.Packet
	var last int64
	for {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		last = ci.Timestamp
		if dec.Decode(data, ci.LinkType, ci.Timestamp, &pkt) == capture.ResultTCP {
			asm.Packet(&pkt)
		}
	}
	asm.CloseAll(last)
	var out []*Conn
	for _, c := range f.conns {
		if c.Dirs[0].Len()+c.Dirs[1].Len() > 0 {
			out = append(out, c)
		}
	}
	return out
}
