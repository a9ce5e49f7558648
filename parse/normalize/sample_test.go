package normalize

import "testing"

func TestSampler(t *testing.T) {
	s := newSampler(3, 4)
	var got []bool
	f := func(endpoint string, bytes int64, status int) {
		got = append(got, s.analyze(endpoint, bytes, status))
	}
	// The first three of an endpoint, whatever their size.
	f("GET h /a", 100, 200)
	f("GET h /a", 50, 200)
	f("GET h /a", 50, 200)
	// Then only a larger body, a new status class, or every fourth.
	f("GET h /a", 80, 200)  // 4th: every fourth
	f("GET h /a", 80, 200)  // no
	f("GET h /a", 101, 200) // larger than any before
	f("GET h /a", 10, 404)  // first 4xx
	f("GET h /a", 10, 200)  // 8th: every fourth
	f("GET h /a", 10, 200)  // no
	f("GET h /b", 1, 200)   // another endpoint starts afresh
	want := []bool{true, true, true, true, false, true, true, true, false, true}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("response %d: analyse %v, want %v", i+1, got[i], want[i])
		}
	}

	all := newSampler(1, 1)
	for range 100 {
		if !all.analyze("GET h /a", 1, 200) {
			t.Fatal("AnalyzeEvery 1 skipped a body")
		}
	}
}
