package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"
)

// A deliberately small pcap reader, independent of apiwatch's capture and
// parse packages: the ground truth must not come from the code under test.
// It reads what tcpdump -w writes on a veth: classic pcap, Ethernet (or
// Linux cooked) frames, IPv4, TCP.

type packet struct {
	ts               time.Time
	src, dst         netip.Addr
	sport, dport     uint16
	flags            uint8
	payload          []byte
	frameLen, capLen int
}

// readPcap calls fn for every IPv4 TCP packet of a pcap or pcap.gz file.
func readPcap(path string, fn func(*packet)) (frames int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return 0, err
		}
		defer gz.Close()
		r = gz
	}
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder
	var nano bool
	switch m := binary.LittleEndian.Uint32(hdr[:4]); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo, nano = binary.LittleEndian, m == 0xa1b23c4d
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo, nano = binary.BigEndian, m == 0x4d3cb2a1
	default:
		return 0, fmt.Errorf("not a classic pcap file (magic %#x)", m)
	}
	link := bo.Uint32(hdr[20:24]) & 0x0fffffff
	var rec [16]byte
	buf := make([]byte, 0, 1<<16)
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return frames, nil
			}
			return frames, err
		}
		sec, frac := int64(bo.Uint32(rec[0:4])), int64(bo.Uint32(rec[4:8]))
		incl, orig := int(bo.Uint32(rec[8:12])), int(bo.Uint32(rec[12:16]))
		if incl > 1<<20 {
			return frames, fmt.Errorf("record of %d bytes", incl)
		}
		buf = buf[:incl]
		if _, err := io.ReadFull(r, buf); err != nil {
			return frames, err
		}
		frames++
		if !nano {
			frac *= 1000
		}
		p := packet{ts: time.Unix(sec, frac).UTC(), frameLen: orig, capLen: incl}
		if decode(link, buf, &p) {
			fn(&p)
		}
	}
}

func decode(link uint32, b []byte, p *packet) bool {
	var etype uint16
	switch link {
	case 1: // Ethernet
		if len(b) < 14 {
			return false
		}
		etype, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
		for etype == 0x8100 && len(b) >= 4 {
			etype, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
		}
	case 113: // Linux cooked
		if len(b) < 16 {
			return false
		}
		etype, b = binary.BigEndian.Uint16(b[14:16]), b[16:]
	default:
		return false
	}
	if etype != 0x0800 || len(b) < 20 || b[0]>>4 != 4 {
		return false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if b[9] != 6 || ihl < 20 || total < ihl || len(b) < ihl {
		return false
	}
	if total < len(b) {
		b = b[:total] // Ethernet padding
	}
	p.src = netip.AddrFrom4([4]byte(b[12:16]))
	p.dst = netip.AddrFrom4([4]byte(b[16:20]))
	t := b[ihl:]
	if len(t) < 20 {
		return false
	}
	off := int(t[12]>>4) * 4
	if off < 20 || off > len(t) {
		return false
	}
	p.sport, p.dport = binary.BigEndian.Uint16(t[0:2]), binary.BigEndian.Uint16(t[2:4])
	p.flags = t[13]
	p.payload = t[off:]
	return true
}
