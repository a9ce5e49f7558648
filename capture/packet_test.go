package capture

import (
	"net/netip"
	"testing"
)

func TestFlowHash(t *testing.T) {
	flow := func(i int) Flow {
		return Flow{SrcIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), DstIP: netip.MustParseAddr("10.9.0.1"),
			SrcPort: uint16(40000 + i%7), DstPort: 443}
	}
	const key = 0x5eed
	per := [4]int{}
	for i := range 4000 {
		f := flow(i)
		h := f.Hash(key)
		if f.Reverse().Hash(key) != h {
			t.Fatalf("%v: the two directions hash apart", f)
		}
		per[h%4]++
	}
	// Sharded over 4 workers, each gets its share (1000 ± 15%).
	for w, n := range per {
		if n < 850 || n > 1150 {
			t.Errorf("worker %d of 4 gets %d of 4000 connections", w, n)
		}
	}
	// Every field counts, and the key changes the sharding.
	base := flow(1)
	variants := []Flow{base, base, base, base, base}
	variants[0].SrcPort++
	variants[1].DstIP = netip.MustParseAddr("10.9.0.2")
	variants[2].VLAN[1] = 7
	variants[3].VNI = 42
	variants[4].SrcIP = netip.MustParseAddr("2001:db8::1")
	for _, v := range variants {
		if v.Hash(key) == base.Hash(key) {
			t.Errorf("%v hashes like %v", v, base)
		}
	}
	moved := 0
	for i := range 1000 {
		if flow(i).Hash(key)%2 != flow(i).Hash(key+1)%2 {
			moved++
		}
	}
	if moved < 400 || moved > 600 {
		t.Errorf("another key moves %d of 1000 connections to the other of 2 workers; want about half", moved)
	}
}

// BenchmarkFlowHash: the reader hashes every packet to pick its worker.
func BenchmarkFlowHash(b *testing.B) {
	f := Flow{SrcIP: netip.MustParseAddr("10.20.0.132"), DstIP: netip.MustParseAddr("10.0.0.10"), SrcPort: 60633, DstPort: 80}
	for b.Loop() {
		f.Hash(0x5eed)
	}
}
