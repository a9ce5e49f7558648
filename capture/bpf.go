package capture

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// Classic BPF filters for live capture, built without libpcap: either
// compiled here from a port list, or parsed from `tcpdump -ddd` output, so
// any tcpdump expression can be compiled once (on any machine) and passed in.

// maxFilterPorts bounds a port list: each port costs four instructions, and
// jumps in classic BPF reach at most 255 instructions ahead.
const maxFilterPorts = 24

// acceptAll is what a filter returns to keep a whole packet (tcpdump's
// value): the kernel keeps min(return value, packet length) bytes.
const acceptAll = 262144

// maxBPFInstructions is the kernel's BPF_MAXINSNS.
const maxBPFInstructions = 4096

// PortFilter compiles a filter that keeps TCP segments from or to any of
// ports, over IPv4 and IPv6, untagged or under one 802.1Q/802.1ad tag, on
// Ethernet framing. IPv4 fragments after the first are kept too (their ports
// are in the first fragment; the Decoder reassembles them).
//
// Like tcpdump's `tcp port N`, it does not walk IPv6 extension headers.
// When the NIC strips VLAN tags (rx-vlan-offload) the kernel runs the
// filter on the untagged frame, which the untagged branch matches.
func PortFilter(ports []uint16) ([]bpf.RawInstruction, error) {
	if len(ports) == 0 {
		return nil, fmt.Errorf("capture/bpf.go: empty port list")
	}
	if len(ports) > maxFilterPorts {
		return nil, fmt.Errorf("capture/bpf.go: %d ports in the filter, at most %d: use a tcpdump -ddd filter (e.g. `tcp portrange`) for more", len(ports), maxFilterPorts)
	}
	var a asm
	a.op(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(etherVLAN, "vlan", "")
	a.jeq(etherQinQ, "vlan", "")
	a.jeq(etherIPv4, "ip4-14", "")
	a.jeq(etherIPv6, "ip6-14", "reject")
	a.label("vlan")
	a.op(bpf.LoadAbsolute{Off: 16, Size: 2})
	a.jeq(etherIPv4, "ip4-18", "")
	a.jeq(etherIPv6, "ip6-18", "reject")
	for _, l := range []uint32{14, 18} {
		a.label(fmt.Sprintf("ip4-%d", l))
		a.op(bpf.LoadAbsolute{Off: l + 9, Size: 1})
		a.jeq(protoTCP, "", "reject")
		a.op(bpf.LoadAbsolute{Off: l + 6, Size: 2})
		a.jset(0x1fff, "accept", "")
		a.op(bpf.LoadMemShift{Off: l})
		for _, off := range []uint32{0, 2} {
			a.op(bpf.LoadIndirect{Off: l + off, Size: 2})
			for _, p := range ports {
				a.jeq(uint32(p), "accept", "")
			}
		}
		a.jump("reject")

		a.label(fmt.Sprintf("ip6-%d", l))
		a.op(bpf.LoadAbsolute{Off: l + 6, Size: 1})
		a.jeq(protoTCP, "", "reject")
		for _, off := range []uint32{40, 42} {
			a.op(bpf.LoadAbsolute{Off: l + off, Size: 2})
			for _, p := range ports {
				a.jeq(uint32(p), "accept", "")
			}
		}
		a.jump("reject")
	}
	a.label("accept")
	a.op(bpf.RetConstant{Val: acceptAll})
	a.label("reject")
	a.op(bpf.RetConstant{Val: 0})
	prog, err := a.assemble()
	if err != nil {
		return nil, fmt.Errorf("capture/bpf.go: port filter: %w", err)
	}
	return prog, nil
}

// ParseBPF parses a classic BPF program in the format `tcpdump -ddd` prints:
// the instruction count, then one "code jt jf k" line (decimal) per
// instruction. Commas may replace the newlines (iptables' bpf match style).
func ParseBPF(text string) ([]bpf.RawInstruction, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' || r == ';' })
	var lines []string
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" {
			lines = append(lines, f)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("capture/bpf.go: empty BPF program: pass the output of `tcpdump -ddd -y EN10MB 'EXPR'`")
	}
	n, err := strconv.Atoi(lines[0])
	if err != nil || n <= 0 || n > maxBPFInstructions {
		return nil, fmt.Errorf("capture/bpf.go: BPF program must start with its instruction count (1..%d), got %q: pass the output of `tcpdump -ddd`, not -d or -dd", maxBPFInstructions, lines[0])
	}
	if len(lines)-1 != n {
		return nil, fmt.Errorf("capture/bpf.go: BPF program announces %d instructions but has %d", n, len(lines)-1)
	}
	prog := make([]bpf.RawInstruction, n)
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("capture/bpf.go: BPF instruction %d: %q is not \"code jt jf k\"", i, line)
		}
		var v [4]uint64
		for j, bits := range []int{16, 8, 8, 32} {
			if v[j], err = strconv.ParseUint(f[j], 10, bits); err != nil {
				return nil, fmt.Errorf("capture/bpf.go: BPF instruction %d: %q: field %d: %w", i, line, j+1, err)
			}
		}
		ins := bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
		if err := checkJump(ins, i, n); err != nil {
			return nil, err
		}
		prog[i] = ins
	}
	if last := prog[n-1].Op & 0x07; last != 0x06 { // BPF_RET
		return nil, fmt.Errorf("capture/bpf.go: BPF program does not end with a return instruction")
	}
	return prog, nil
}

// checkJump rejects a jump past the end of the program here, with the
// instruction's number, rather than as EINVAL from the kernel.
func checkJump(ins bpf.RawInstruction, i, n int) error {
	if ins.Op&0x07 != 0x05 { // BPF_JMP
		return nil
	}
	var far int
	if ins.Op&0xf0 == 0x00 { // BPF_JA
		far = int(ins.K)
	} else {
		far = max(int(ins.Jt), int(ins.Jf))
	}
	if i+1+far >= n {
		return fmt.Errorf("capture/bpf.go: BPF instruction %d jumps past the end of the program", i)
	}
	return nil
}

// FormatBPF prints a program in the `tcpdump -ddd` format ParseBPF reads.
func FormatBPF(prog []bpf.RawInstruction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(prog))
	for _, ins := range prog {
		fmt.Fprintf(&b, "%d %d %d %d\n", ins.Op, ins.Jt, ins.Jf, ins.K)
	}
	return b.String()
}

// withSnaplen caps every accepting return of prog at snaplen bytes: with
// TPACKET_V3 the filter's return value is the only per-packet snap length.
func withSnaplen(prog []bpf.RawInstruction, snaplen int) []bpf.RawInstruction {
	if snaplen <= 0 {
		return prog
	}
	if prog == nil {
		r, _ := bpf.RetConstant{Val: uint32(snaplen)}.Assemble()
		return []bpf.RawInstruction{r}
	}
	out := append([]bpf.RawInstruction(nil), prog...)
	for i, ins := range out {
		if ins.Op == 0x06 && ins.K > uint32(snaplen) { // BPF_RET|BPF_K
			out[i].K = uint32(snaplen)
		}
	}
	return out
}

// asm is a tiny assembler with labels, so generated programs need no hand
// counted jump offsets. An empty label means the next instruction.
type asm struct {
	ins    []bpf.Instruction
	jumps  []asmJump
	labels map[string]int
}

type asmJump struct {
	at          int
	to, toFalse string
}

func (a *asm) op(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) cond(c bpf.JumpTest, v uint32, t, f string) {
	a.jumps = append(a.jumps, asmJump{len(a.ins), t, f})
	a.op(bpf.JumpIf{Cond: c, Val: v})
}

func (a *asm) jeq(v uint32, t, f string)  { a.cond(bpf.JumpEqual, v, t, f) }
func (a *asm) jset(v uint32, t, f string) { a.cond(bpf.JumpBitsSet, v, t, f) }

func (a *asm) jump(to string) {
	a.jumps = append(a.jumps, asmJump{at: len(a.ins), to: to})
	a.op(bpf.Jump{})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(from int, label string) (int, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := a.labels[label]
		if !ok || to <= from {
			return 0, fmt.Errorf("bad jump to %q", label)
		}
		return to - from - 1, nil
	}
	for _, j := range a.jumps {
		st, err := skip(j.at, j.to)
		if err != nil {
			return nil, err
		}
		switch ins := a.ins[j.at].(type) {
		case bpf.Jump:
			ins.Skip = uint32(st)
			a.ins[j.at] = ins
		case bpf.JumpIf:
			sf, err := skip(j.at, j.toFalse)
			if err != nil {
				return nil, err
			}
			if st > 255 || sf > 255 {
				return nil, fmt.Errorf("jump from %d too far", j.at)
			}
			ins.SkipTrue, ins.SkipFalse = uint8(st), uint8(sf)
			a.ins[j.at] = ins
		}
	}
	return bpf.Assemble(a.ins)
}
