package stream

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSpool checks the spool keeps order across segments and restarts,
// stops at its size cap, and reads the whole records of a cut segment.
func TestSpool(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 4000, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		ok, err := s.add(Message{Key: []byte("k"), Value: []byte(strconv.Itoa(n) + "-0123456789012345678901234567890123456789")})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break // the cap
		}
	}
	if n < 50 || n > 90 {
		t.Fatalf("%d messages fit in 4000 bytes", n)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	// A later run finds the segments and replays them in order.
	s, err = openSpool(dir, 4000, 500)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last segment mid-record, as a crash would.
	last := s.path(s.segments[len(s.segments)-1])
	b, _ := os.ReadFile(last)
	os.WriteFile(last, b[:len(b)-5], 0o640)
	got := 0
	for !s.empty() {
		msgs, err := s.oldest()
		if err != nil && s.segments[0] != s.segments[len(s.segments)-1] {
			t.Fatalf("segment %d: %v", s.segments[0], err)
		}
		for _, m := range msgs {
			want := strconv.Itoa(got) + "-"
			if string(m.Value[:len(want)]) != want {
				t.Fatalf("message %d is %q", got, m.Value)
			}
			got++
		}
		if err := s.dropOldest(); err != nil {
			t.Fatal(err)
		}
	}
	if got != n-1 {
		t.Errorf("replayed %d of %d (the cut one lost)", got, n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix)); len(left) != 0 {
		t.Errorf("segments left after replay: %v", left)
	}
}
