package capture

import (
	"os"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

func vm(t *testing.T, prog []bpf.RawInstruction) *bpf.VM {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program does not disassemble:\n%s", FormatBPF(prog))
	}
	v, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// filterFrames are Ethernet frames with the filter's verdict for a filter on
// TCP port 80.
func filterFrames(t *testing.T) []struct {
	name  string
	frame []byte
	keep  bool
} {
	seg80 := tcpSeg(t, 40000, 80, "GET /")
	seg80rev := tcpSeg(t, 80, 40000, "HTTP/1.1 200 OK")
	seg81 := tcpSeg(t, 40000, 81, "GET /")
	v4 := func(seg []byte) []byte { return ip4(t, cliIP4, srvIP4, layers.IPProtocolTCP, seg) }
	v6 := func(seg []byte) []byte { return ip6(t, cliIP6, srvIP6, layers.IPProtocolTCP, seg) }
	withOpts := ip4(t, cliIP4, srvIP4, layers.IPProtocolTCP, seg80)
	{ // add 4 bytes of IP options (NOPs + EOL) so the TCP header moves
		b := append([]byte{0x46}, withOpts[1:20]...)
		b = append(b, 1, 1, 1, 0)
		b = append(b, withOpts[20:]...)
		b[3] += 4
		withOpts = b
	}
	return []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"ipv4-dst-80", eth(t, layers.EthernetTypeIPv4, v4(seg80)), true},
		{"ipv4-src-80", eth(t, layers.EthernetTypeIPv4, v4(seg80rev)), true},
		{"ipv4-options", eth(t, layers.EthernetTypeIPv4, withOpts), true},
		{"ipv6-dst-80", eth(t, layers.EthernetTypeIPv6, v6(seg80)), true},
		{"vlan-ipv4-80", eth(t, layers.EthernetTypeDot1Q, dot1q(t, 9, layers.EthernetTypeIPv4, v4(seg80))), true},
		{"vlan-ipv6-80", eth(t, layers.EthernetTypeDot1Q, dot1q(t, 9, layers.EthernetTypeIPv6, v6(seg80rev))), true},
		{"ipv4-81", eth(t, layers.EthernetTypeIPv4, v4(seg81)), false},
		{"ipv6-81", eth(t, layers.EthernetTypeIPv6, v6(seg81)), false},
		{"vlan-ipv4-81", eth(t, layers.EthernetTypeDot1Q, dot1q(t, 9, layers.EthernetTypeIPv4, v4(seg81))), false},
		{"udp-80", eth(t, layers.EthernetTypeIPv4, ip4(t, cliIP4, srvIP4, layers.IPProtocolUDP, udpDgram(t, 40000, 80, []byte("x")))), false},
		{"arp", eth(t, layers.EthernetTypeARP, make([]byte, 28)), false},
	}
}

func TestPortFilter(t *testing.T) {
	f := func(ports []uint16) {
		t.Helper()
		prog, err := PortFilter(ports)
		if err != nil {
			t.Fatal(err)
		}
		v := vm(t, prog)
		for _, c := range filterFrames(t) {
			n, err := v.Run(c.frame)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if (n > 0) != c.keep {
				t.Errorf("ports %v, %s: kept %d bytes, want keep=%v", ports, c.name, n, c.keep)
			}
		}
	}
	f([]uint16{80})
	f([]uint16{8080, 80, 443})
	f([]uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 80})

	if _, err := PortFilter(nil); err == nil {
		t.Error("empty port list accepted")
	}
	if _, err := PortFilter(make([]uint16, maxFilterPorts+1)); err == nil || !strings.Contains(err.Error(), "tcpdump -ddd") {
		t.Errorf("too many ports: %v", err)
	}
}

// TestParseBPF runs tcpdump's own compilation of the same expression (the
// fixtures, see testdata/README.md) over the same frames, and checks that a
// program survives FormatBPF/ParseBPF.
func TestParseBPF(t *testing.T) {
	for _, fixture := range []string{"testdata/tcp-port-80.ddd", "testdata/tcp-port-80-vlan.ddd"} {
		text, err := os.ReadFile(fixture)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := ParseBPF(string(text))
		if err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		v := vm(t, prog)
		for _, c := range filterFrames(t) {
			if strings.HasPrefix(c.name, "vlan") && !strings.Contains(fixture, "vlan") {
				continue // plain `tcp port 80` does not look under a tag
			}
			n, err := v.Run(c.frame)
			if err != nil {
				t.Fatal(err)
			}
			if (n > 0) != c.keep {
				t.Errorf("%s, %s: kept %d, want keep=%v", fixture, c.name, n, c.keep)
			}
		}
		if again, err := ParseBPF(FormatBPF(prog)); err != nil || len(again) != len(prog) {
			t.Errorf("round trip: %v", err)
		}
	}

	f := func(text, wantErr string) {
		t.Helper()
		_, err := ParseBPF(text)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseBPF(%q) = %v, want error containing %q", text, err, wantErr)
		}
	}
	// A hand-written program: keep IPv4 (ldh [12]; jeq #0x800; ret #65535; ret #0).
	if prog, err := ParseBPF("4,40 0 0 12,21 0 1 2048,6 0 0 65535,6 0 0 0"); err != nil || len(prog) != 4 {
		t.Errorf("comma form: %v", err)
	}
	f("", "empty")
	f("(000) ldh [12]", "instruction count")
	f("2\n6 0 0 0\n", "announces 2")
	f("1\n6 0 0\n", "code jt jf k")
	f("1\n6 0 0 x\n", "field 4")
	f("1\n6 0 300 0\n", "field 3")
	f("2\n21 5 0 1\n6 0 0 0\n", "jumps past the end")
	f("1\n40 0 0 12\n", "return")
}

func TestWithSnaplen(t *testing.T) {
	prog, _ := PortFilter([]uint16{80})
	capped := withSnaplen(prog, 128)
	v := vm(t, capped)
	frame := filterFrames(t)[0].frame
	frame = append(frame, make([]byte, 500)...)
	if n, _ := v.Run(frame); n != 128 {
		t.Errorf("kept %d bytes, want 128", n)
	}
	if n, _ := vm(t, prog).Run(frame); n != acceptAll {
		t.Errorf("original program changed: kept %d", n)
	}
	if only := withSnaplen(nil, 96); len(only) != 1 {
		t.Errorf("snaplen without filter: %v", only)
	}
}
