package capture

import (
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
)

// fragments bounds gopacket's IPv4 defragmenter: it keys datagrams as
// ip4defrag does and remembers when each was last fed, so it can cap how
// many are open and expire them by capture time (a pcap replays hours in
// seconds; wall-clock expiry would keep everything or nothing).
type fragments struct {
	defrag    *ip4defrag.IPv4Defragmenter
	open      map[fragKey]int64 // last fragment's capture time
	lastSweep int64
}

type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

// sweepEvery is how often, in capture time, expired datagrams are looked for:
// the scan is over all open datagrams, so not on every packet.
const sweepEvery = int64(time.Second)

// fragment4 takes in one IPv4 fragment (b is the whole IP packet, already
// trimmed to its total length) and decodes the datagram it completes.
//
// The fragment path allocates (ip4defrag keeps the fragments it is given):
// fragmented TCP is rare, so the copies stay off the common path.
func (d *Decoder) fragment4(b []byte, ihl int, p *Packet) Result {
	d.stats.Fragments++
	f := d.frag
	if f == nil {
		f = &fragments{defrag: ip4defrag.NewIPv4Defragmenter(), open: make(map[fragKey]int64), lastSweep: d.ts}
		d.frag = f
	}
	key := fragKey{src: [4]byte(b[12:16]), dst: [4]byte(b[16:20]), id: be16(b[4:]), proto: b[9]}
	if _, ok := f.open[key]; !ok && len(f.open) >= d.cfg.MaxFragmentLists {
		f.expire(d, d.ts, true)
		if len(f.open) >= d.cfg.MaxFragmentLists {
			return d.drop(DropFragmentOverflow)
		}
	}
	ff := be16(b[6:])
	in := &layers.IPv4{
		Version:    4,
		IHL:        uint8(ihl / 4),
		TOS:        b[1],
		Length:     uint16(len(b)),
		Id:         key.id,
		Flags:      layers.IPv4Flag(ff >> 13),
		FragOffset: ff & 0x1fff,
		TTL:        b[8],
		Protocol:   layers.IPProtocol(key.proto),
		SrcIP:      net.IP(key.src[:]),
		DstIP:      net.IP(key.dst[:]),
	}
	in.Payload = append([]byte(nil), b[ihl:]...)
	out, err := f.defrag.DefragIPv4WithTimestamp(in, time.Unix(0, d.ts))
	switch {
	case err != nil:
		delete(f.open, key) // ip4defrag flushed the datagram
		return d.drop(DropFragmentInvalid)
	case out == nil:
		f.open[key] = d.ts
		return ResultFragment
	}
	delete(f.open, key)
	d.stats.Reassembled++
	src, dst := netip.AddrFrom4(key.src), netip.AddrFrom4(key.dst)
	return d.ipPayload(key.proto, src, dst, out.Payload, p)
}

// expire forgets datagrams whose last fragment is older than the timeout,
// counting each as one fragment_timeout drop. Unless force is set it runs at
// most once per sweepEvery of capture time.
func (f *fragments) expire(d *Decoder, now int64, force bool) {
	if len(f.open) == 0 || (!force && now-f.lastSweep < sweepEvery) {
		return
	}
	f.lastSweep = now
	cutoff := now - int64(d.cfg.FragmentTimeout)
	n := f.defrag.DiscardOlderThan(time.Unix(0, cutoff))
	d.stats.Drops[DropFragmentTimeout] += uint64(n)
	for k, seen := range f.open {
		if seen < cutoff {
			delete(f.open, k)
		}
	}
}
