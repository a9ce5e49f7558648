package normalize

// Defaults for body analysis sampling (Config.AnalyzeFirst, AnalyzeEvery).
const (
	// DefaultAnalyzeFirst: an endpoint's first responses are all analysed,
	// so its fields, record counts and sensitive classes are learned before
	// any sampling starts.
	DefaultAnalyzeFirst = 64
	// DefaultAnalyzeEvery: then 1 in 32. A leak that persists (a deploy
	// that adds a field) shows within a hundred responses; one-off
	// anomalies are caught by the size and status rules instead, and
	// successful responses to callers without credentials are always
	// analysed (normalize.go). Analysing every body costs more CPU than all
	// of the parsing (bench/compare.sh).
	DefaultAnalyzeEvery = 32
)

// maxSampled bounds the endpoints whose sampling state is kept; beyond it
// the table starts over (every endpoint is then new again: analysed fully).
const maxSampled = 16384

// sampler decides which response bodies to analyse, per endpoint.
type sampler struct {
	first, every uint64
	endpoints    map[string]*sampleState
}

type sampleState struct {
	seen     uint64
	maxBytes int64
	classes  uint8 // status classes seen, a bit per 1xx..5xx
}

func newSampler(first, every int) sampler {
	if first <= 0 {
		first = DefaultAnalyzeFirst
	}
	if every <= 0 {
		every = DefaultAnalyzeEvery
	}
	return sampler{first: uint64(first), every: uint64(every), endpoints: map[string]*sampleState{}}
}

// analyze reports whether the body of a response of endpoint, of size
// bytes and status, should be analysed: every one of a new endpoint's first
// responses, every one larger than any before on it or of a status class
// new to it, and 1 in every of the rest.
func (s *sampler) analyze(endpoint string, bytes int64, status int) bool {
	if s.every == 1 {
		return true
	}
	st := s.endpoints[endpoint]
	if st == nil {
		if len(s.endpoints) >= maxSampled {
			clear(s.endpoints)
		}
		st = &sampleState{}
		s.endpoints[endpoint] = st
	}
	st.seen++
	class := uint8(1) << min(uint(status/100), 7)
	newClass := st.classes&class == 0
	st.classes |= class
	bigger := bytes > st.maxBytes
	st.maxBytes = max(st.maxBytes, bytes)
	return st.seen <= s.first || bigger || newClass || st.seen%s.every == 0
}
