package capture

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
	"github.com/gopacket/gopacket/layers"
)

// FuzzDecode feeds arbitrary frames to the decoder. An input is a 2-byte
// big-endian link type followed by the frame. Seeds are the hand-built frames
// of every supported encapsulation and the first frames of every shared
// capture, so the fuzzer starts from real mirror traffic.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./capture/
func FuzzDecode(f *testing.F) {
	seed := func(link layers.LinkType, frame []byte) {
		f.Add(binary.BigEndian.AppendUint16(nil, uint16(link)), frame)
	}
	for _, c := range decodeCases(f) {
		seed(c.link, c.frame)
	}
	files, _ := filepath.Glob(filepath.Join(sharedpcaps.Root(f), "*/*/input.pcap"))
	for _, path := range files {
		src, err := OpenFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for range 16 {
			data, ci, err := src.ReadPacket()
			if err != nil {
				break
			}
			seed(ci.LinkType, append([]byte(nil), data...))
		}
		src.Close()
	}

	f.Fuzz(func(t *testing.T, link, frame []byte) {
		if len(link) < 2 || len(frame) > 1<<16 {
			return
		}
		d := NewDecoder(DecoderConfig{})
		var p Packet
		lt := layers.LinkType(binary.BigEndian.Uint16(link))
		for round := range 2 {
			r := d.Decode(frame, lt, int64(round), &p)
			s := d.Stats()
			switch r {
			case ResultTCP:
				if s.Reassembled == 0 && len(p.Payload) > len(frame) {
					t.Fatalf("payload of %d bytes from a %d-byte frame", len(p.Payload), len(frame))
				}
				if !p.Flow.SrcIP.IsValid() || !p.Flow.DstIP.IsValid() {
					t.Fatalf("TCP segment without addresses: %v", p.Flow)
				}
			case ResultSkipped, ResultFragment, ResultDropped:
			default:
				t.Fatalf("invalid result %v", r)
			}
			if s.TCP+s.SkippedUDP+s.SkippedICMP+s.SkippedARP+s.SkippedOther+s.Fragments+s.Dropped() < s.Packets {
				t.Fatalf("a frame went uncounted: %+v", s)
			}
		}
	})
}
