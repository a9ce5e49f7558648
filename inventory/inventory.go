// Package inventory builds the API inventory from events: every endpoint
// seen, how often, with which methods, statuses, credential kinds and
// sensitive data, and whether the OpenAPI specs know it. It is what
// `apiwatch endpoints` prints, and what an analyst checks first when a
// template looks wrong.
package inventory

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apiwatch/apiwatch/event"
)

// DefaultMaxEndpoints bounds the inventory: far above the endpoints of any
// real API, low enough that a scanner inventing paths cannot exhaust memory.
const DefaultMaxEndpoints = 100_000

// Endpoint is what the inventory knows about one endpoint.
type Endpoint struct {
	Endpoint            string // "GET api.example.com /v1/users/{id}"
	Method, Host        string
	Template            string
	Count               uint64
	FirstSeen, LastSeen time.Time
	Statuses            map[uint32]uint64
	AuthKinds           map[string]uint64 // by actor kind name ("jwt", "api_key", … "none")
	Sensitive           map[string]uint64 // by class name, summed over responses
	Logins              uint64
	FromSpec, Shadow    bool
}

// Inventory aggregates events by endpoint. The zero value is not usable: use
// New. Not safe for concurrent use.
type Inventory struct {
	max       int
	endpoints map[string]*Endpoint
	// Dropped counts events of endpoints not tracked because the
	// inventory was full.
	Dropped uint64
}

// New returns an empty inventory holding at most max endpoints
// (DefaultMaxEndpoints when max <= 0).
func New(max int) *Inventory {
	if max <= 0 {
		max = DefaultMaxEndpoints
	}
	return &Inventory{max: max, endpoints: map[string]*Endpoint{}}
}

// Add counts one event. TLS events have no endpoint and are ignored.
func (inv *Inventory) Add(e *event.APIEvent) {
	req := e.GetRequest()
	if e.GetKind() != event.Kind_KIND_HTTP || req == nil {
		return
	}
	ep := inv.endpoints[req.Endpoint]
	if ep == nil {
		if len(inv.endpoints) >= inv.max {
			inv.Dropped++
			return
		}
		ep = &Endpoint{
			Endpoint: req.Endpoint, Method: req.Method, Host: req.Host, Template: req.Template,
			Statuses: map[uint32]uint64{}, AuthKinds: map[string]uint64{}, Sensitive: map[string]uint64{},
		}
		inv.endpoints[req.Endpoint] = ep
	}
	ep.Count++
	ts := time.Unix(0, e.RequestStartNs).UTC()
	if ep.FirstSeen.IsZero() || ts.Before(ep.FirstSeen) {
		ep.FirstSeen = ts
	}
	if ts.After(ep.LastSeen) {
		ep.LastSeen = ts
	}
	if resp := e.GetResponse(); resp != nil {
		ep.Statuses[resp.Status]++
		for _, s := range resp.Sensitive {
			ep.Sensitive[ClassName(s.Class)] += uint64(s.Count)
		}
	}
	ep.AuthKinds[ActorKindName(e.GetActor().GetKind())]++
	if e.GetLogin() != nil {
		ep.Logins++
	}
	ep.FromSpec = ep.FromSpec || req.FromSpec
	ep.Shadow = ep.Shadow || req.Shadow
}

// Merge adds the counts of other (another worker's inventory) to inv.
func (inv *Inventory) Merge(other *Inventory) {
	inv.Dropped += other.Dropped
	for key, o := range other.endpoints {
		ep := inv.endpoints[key]
		if ep == nil {
			if len(inv.endpoints) >= inv.max {
				inv.Dropped += o.Count
				continue
			}
			c := *o
			c.Statuses, c.AuthKinds, c.Sensitive = maps.Clone(o.Statuses), maps.Clone(o.AuthKinds), maps.Clone(o.Sensitive)
			inv.endpoints[key] = &c
			continue
		}
		ep.Count += o.Count
		ep.Logins += o.Logins
		if o.FirstSeen.Before(ep.FirstSeen) {
			ep.FirstSeen = o.FirstSeen
		}
		if o.LastSeen.After(ep.LastSeen) {
			ep.LastSeen = o.LastSeen
		}
		addAll(ep.Statuses, o.Statuses)
		addAll(ep.AuthKinds, o.AuthKinds)
		addAll(ep.Sensitive, o.Sensitive)
		ep.FromSpec = ep.FromSpec || o.FromSpec
		ep.Shadow = ep.Shadow || o.Shadow
	}
}

func addAll[K comparable](dst, src map[K]uint64) {
	for k, v := range src {
		dst[k] += v
	}
}

// Endpoints returns the endpoints, busiest first.
func (inv *Inventory) Endpoints() []*Endpoint {
	out := make([]*Endpoint, 0, len(inv.endpoints))
	for _, ep := range inv.endpoints {
		out = append(out, ep)
	}
	slices.SortFunc(out, func(a, b *Endpoint) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Endpoint, b.Endpoint)
	})
	return out
}

// WriteTable prints the inventory for people.
func (inv *Inventory) WriteTable(w io.Writer) {
	eps := inv.Endpoints()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tCALLS\tSTATUSES\tAUTH\tSENSITIVE\tNOTE")
	for _, ep := range eps {
		var note []string
		if ep.Shadow {
			note = append(note, "shadow (not in spec)")
		}
		if ep.Logins > 0 {
			note = append(note, fmt.Sprintf("login (%d)", ep.Logins))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", ep.Endpoint, ep.Count,
			counts(ep.Statuses, func(s uint32) string { return fmt.Sprint(s) }),
			counts(ep.AuthKinds, func(s string) string { return s }),
			counts(ep.Sensitive, func(s string) string { return s }),
			strings.Join(note, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d endpoints", len(eps))
	if inv.Dropped > 0 {
		fmt.Fprintf(w, "; %d events of further endpoints not tracked (inventory full at %d)", inv.Dropped, inv.max)
	}
	fmt.Fprintln(w)
}

// counts renders "200×10 404×2", most frequent first.
func counts[K cmp.Ordered](m map[K]uint64, name func(K) string) string {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", name(k), m[k])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// ClassName is the short name of a sensitive-data class: "email", "card".
func ClassName(c event.SensitiveClass) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "SENSITIVE_CLASS_"))
}

// ActorKindName is the short name of an actor kind: "jwt", "api_key".
func ActorKindName(k event.ActorKind) string {
	if k == event.ActorKind_ACTOR_KIND_UNSPECIFIED {
		return "none"
	}
	return strings.ToLower(strings.TrimPrefix(k.String(), "ACTOR_KIND_"))
}
