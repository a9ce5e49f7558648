package conformance

import (
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
)

var loaded []Case

func loadAll(t *testing.T) []Case {
	t.Helper()
	if loaded == nil {
		cs, err := LoadCases(sharedpcaps.Root(t))
		if err != nil {
			t.Fatal(err)
		}
		loaded = cs
	}
	return loaded
}

func caseNamed(t *testing.T, name string) Case {
	t.Helper()
	for _, c := range loadAll(t) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("case %s not loaded", name)
	return Case{}
}

// checksOfKind returns the case's checks of one kind, in order.
func checksOfKind(c Case, kind string) []Check {
	var out []Check
	for _, ch := range c.Checks {
		if ch.Kind() == kind && NAReason(ch) == "" {
			out = append(out, ch)
		}
	}
	return out
}

// checkWith returns the first evaluable check whose description contains s.
func checkWith(t *testing.T, c Case, s string) Check {
	t.Helper()
	for _, ch := range c.Checks {
		if NAReason(ch) == "" && strings.Contains(ch.Describe(), s) {
			return ch
		}
	}
	t.Fatalf("%s: no evaluable check mentions %q", c.Name, s)
	return nil
}

func wantStatus(t *testing.T, ch Check, obs []Transaction, want Status) {
	t.Helper()
	o := ch.Eval(obs)
	if o.Status != want {
		t.Errorf("%s\n  got %v (%s), want %v", ch.Describe(), o.Status, o.Detail, want)
	}
}

func clone(obs []Transaction) []Transaction {
	out := make([]Transaction, len(obs))
	copy(out, obs)
	return out
}
