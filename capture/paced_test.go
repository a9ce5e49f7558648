package capture

import (
	"io"
	"testing"
	"time"
)

// stamped is a source of empty frames at the given capture times.
type stamped struct{ ts []int64 }

func (s *stamped) ReadPacket() ([]byte, CaptureInfo, error) {
	if len(s.ts) == 0 {
		return nil, CaptureInfo{}, io.EOF
	}
	ci := CaptureInfo{Timestamp: s.ts[0]}
	s.ts = s.ts[1:]
	return nil, ci, nil
}

func (s *stamped) Close() error { return nil }

// TestPaced: packets come no earlier than their recorded offsets allow,
// scaled by the speed.
func TestPaced(t *testing.T) {
	base := int64(1_700_000_000e9)
	ms := int64(time.Millisecond)
	src := Paced(&stamped{ts: []int64{base, base + 100*ms, base + 100*ms, base + 300*ms}}, 2)
	start := time.Now()
	var at []time.Duration
	for {
		_, _, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		at = append(at, time.Since(start))
	}
	want := []time.Duration{0, 50 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond}
	for i, w := range want {
		if at[i] < w-slack {
			t.Errorf("packet %d after %v, recorded at %v (half speed): too early", i, at[i], w)
		}
	}
}
