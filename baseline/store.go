package baseline

import (
	"slices"
	"time"

	"github.com/apiwatch/apiwatch/event"
)

// Store holds the baselines of all endpoints. Not safe for concurrent use:
// a detector feeds it from one goroutine (endpoints are partitioned across
// detectors, not shared).
type Store struct {
	cfg       Config
	endpoints twoGen[string, *Endpoint]
	obs       Observation
	sizedFor  int // endpoints the caps were last shared among
}

// New returns an empty Store.
func New(cfg Config) *Store {
	cfg = cfg.withDefaults()
	return &Store{cfg: cfg, endpoints: newTwoGen[string, *Endpoint](cfg.MaxEndpoints)}
}

// Config returns the Store's configuration, defaults applied.
func (s *Store) Config() *Config { return &s.cfg }

// minShare is the least any endpoint may keep of the shared caps.
const minShare = 64

// limits are one endpoint's caps.
type limits struct{ actors, sources, usernames, owners int }

// limitsFor shares MaxActorsTotal and MaxOwnersTotal among n endpoints.
func (s *Store) limitsFor(n int) limits {
	share := func(per, total int) int { return max(min(per, total/n), minShare) }
	return limits{
		actors: share(s.cfg.MaxActors, s.cfg.MaxActorsTotal), sources: share(s.cfg.MaxSources, s.cfg.MaxActorsTotal),
		usernames: share(s.cfg.MaxUsernames, s.cfg.MaxActorsTotal), owners: share(s.cfg.MaxOwners, s.cfg.MaxOwnersTotal),
	}
}

func (l limits) apply(ep *Endpoint) {
	ep.actors.setLimit(l.actors)
	ep.sources.setLimit(l.sources)
	ep.usernames.setLimit(l.usernames)
	ep.owners.setLimit(l.owners)
}

// added sets the caps of a new endpoint, so that memory stays bounded
// however many endpoints appear. All endpoints' caps are recomputed when
// their number has doubled or halved since the last time, so a churn of
// endpoints at MaxEndpoints costs nothing; in between, the endpoints
// together may hold up to twice the total caps.
func (s *Store) added(ep *Endpoint) {
	n := s.endpoints.len()
	if s.sizedFor == 0 || n >= 2*s.sizedFor || 2*n <= s.sizedFor {
		s.sizedFor = max(n, 1)
		l := s.limitsFor(s.sizedFor)
		s.Endpoints(l.apply)
		return
	}
	s.limitsFor(s.sizedFor).apply(ep)
}

// Endpoint returns the baseline of an endpoint, nil when unknown.
func (s *Store) Endpoint(name string) *Endpoint {
	ep, _ := s.endpoints.get(name)
	return ep
}

// Endpoints calls f for every endpoint kept.
func (s *Store) Endpoints(f func(*Endpoint)) {
	for _, ep := range s.endpoints.cur {
		f(ep)
	}
	for _, ep := range s.endpoints.old {
		f(ep)
	}
}

// Retain keeps the endpoints keep approves of and forgets the others (a
// detector given other partitions hands their endpoints on); it returns
// how many it forgot.
func (s *Store) Retain(keep func(name string) bool) int {
	var drop []string
	s.Endpoints(func(ep *Endpoint) {
		if !keep(ep.Name) {
			drop = append(drop, ep.Name)
		}
	})
	for _, name := range drop {
		s.endpoints.delete(name)
	}
	return len(drop)
}

// Len returns the number of endpoints kept.
func (s *Store) Len() int { return s.endpoints.len() }

// Observe learns from one event and returns what the detectors need to
// judge it. Events without an endpoint (TLS flows, responses without their
// request) return nil. The Observation is reused by the next call.
func (s *Store) Observe(e *event.APIEvent) *Observation {
	if e.Request == nil || e.Request.Endpoint == "" {
		return nil
	}
	now := e.RequestStartNs
	ep, ok := s.endpoints.get(e.Request.Endpoint)
	if !ok {
		ep = newEndpoint(e.Request.Endpoint, &s.cfg)
		ep.First = now
		s.endpoints.put(ep.Name, ep)
		s.added(ep)
	}
	o := &s.obs
	*o = Observation{Event: e, Endpoint: ep, Time: now, Learned: ep.Learned(&s.cfg), NewFields: o.NewFields[:0]}
	ep.Events++
	if now-ep.rateStart >= int64(s.cfg.Window) {
		if ep.rateEvents > 0 {
			_ = ep.Rate.Add(float64(ep.rateEvents))
		}
		ep.rateStart, ep.rateEvents = now, 0
	}
	ep.rateEvents++
	if now > ep.Last {
		ep.Last = now
	}
	if now < ep.First {
		ep.First = now
	}
	kind := event.ActorKind_ACTOR_KIND_UNSPECIFIED
	if e.Actor != nil {
		kind = e.Actor.Kind
	}
	if int(kind) < len(ep.AuthKinds) {
		ep.AuthKinds[kind]++
	}
	o.Unauthenticated = kind == event.ActorKind_ACTOR_KIND_CLIENT_IP || kind == event.ActorKind_ACTOR_KIND_UNSPECIFIED

	var status uint32
	if r := e.Response; r != nil {
		status = r.Status
		ep.Status[min(status/100, 5)]++
		if e.LatencyNs > 0 {
			_ = ep.Latency.Add(float64(e.LatencyNs) / 1e6)
		}
		if r.BodyBytes >= 0 {
			_ = ep.Bytes.Add(float64(r.BodyBytes))
		}
		if r.BodyAnalyzed {
			s.learnBody(o, ep, r, status)
		}
	}
	if e.Actor != nil && e.Actor.Id != "" {
		o.Actor = s.observeActor(ep, e, now, status, o.Learned)
	}
	if e.Login != nil {
		s.observeLogin(o, ep, e, now)
	}
	return o
}

func (s *Store) learnBody(o *Observation, ep *Endpoint, r *event.Response, status uint32) {
	known := ep.Analyzed > 0
	ep.Analyzed++
	if sh := r.Shape; sh != nil {
		if sh.Records >= 0 {
			_ = ep.Records.Add(float64(sh.Records))
		}
		for _, f := range sh.FieldPaths {
			if _, seen := ep.Fields[f]; seen {
				ep.Fields[f]++
				continue
			}
			if len(ep.Fields) >= s.cfg.MaxFields {
				ep.FieldsDropped++
				continue
			}
			ep.Fields[f] = 1
			if known {
				o.NewFields = append(o.NewFields, f)
			}
		}
	}
	for _, sc := range r.Sensitive {
		c := int(sc.Class) - 1
		if c < 0 || c >= NumClasses || sc.Count == 0 {
			continue
		}
		o.SensitiveClasses |= 1 << c
		if ep.Sensitive[c] == 0 && known {
			o.NewClasses |= 1 << c
		}
		ep.Sensitive[c]++
	}
	if o.SensitiveClasses != 0 && o.Unauthenticated && status/100 == 2 {
		ep.UnauthSensitive++
	}
}

func (s *Store) observeActor(ep *Endpoint, e *event.APIEvent, now int64, status uint32, learned bool) *Actor {
	a, ok := ep.actors.get(e.Actor.Id)
	if !ok {
		a = &Actor{ID: e.Actor.Id, Kind: e.Actor.Kind.String(), WindowStart: now}
		ep.actors.put(a.ID, a)
	}
	if now-a.WindowStart >= int64(s.cfg.Window) {
		s.closeActorWindow(ep, a, learned)
		a.WindowStart = now
	}
	a.Events++
	a.ClientIPs = addIP(a.ClientIPs, e.ClientIp)
	if status == 401 || status == 403 || status == 404 {
		a.Denied++
	}
	ok2xx := status/100 == 2
	if r := e.Response; r != nil && ok2xx {
		if r.BodyBytes > 0 {
			a.Bytes += r.BodyBytes
		}
		if r.Shape != nil && r.Shape.Records > 0 {
			a.Records += r.Shape.Records
		}
	}
	for _, id := range e.ObjectIds {
		var key uint64
		switch v := id.Value.(type) {
		case *event.ObjectID_Number:
			key = v.Number
			if a.hasNumber && absDiff(v.Number, a.lastNumber) <= 2 && v.Number != a.lastNumber {
				a.Sequential++
			}
			a.Numeric++
			a.lastNumber, a.hasNumber = v.Number, true
		case *event.ObjectID_Hash:
			key = hashKey(v.Hash)
		default:
			continue
		}
		a.Objects.add(key, s.cfg.MaxExactObjects)
		if !ok2xx {
			continue
		}
		switch owner, known := ep.owners.get(key); {
		case !known:
			ep.owners.put(key, a.ID)
		case owner != a.ID:
			a.Foreign++
		}
	}
	return a
}

// hashKey is the key of a hashed object id, a username hash or a client
// address in the object sets: FNV-1a of it, with the top bit set so that no
// number collides with it. Stable across processes, unlike a seeded hash,
// so sets survive a snapshot. Ids and usernames are the sensor's keyed
// hashes, out of a caller's control; addresses are whatever a caller has,
// not what it can pick to collide.
func hashKey(h string) uint64 {
	k := uint64(14695981039346656037)
	for i := 0; i < len(h); i++ {
		k = (k ^ uint64(h[i])) * 1099511628211
	}
	return k | 1<<63
}

// closeActorWindow learns from an actor's finished window (unless a
// detector flagged it) and starts a new one.
func (s *Store) closeActorWindow(ep *Endpoint, a *Actor, learned bool) {
	objects := a.Objects.Len()
	if !a.Flagged && a.Events > 0 {
		_ = ep.ActorObjects.Add(float64(objects))
		_ = ep.ActorRecords.Add(float64(a.Records))
		_ = ep.ActorBytes.Add(float64(a.Bytes))
		if !learned {
			a.LearnedMaxObjects = max(a.LearnedMaxObjects, objects)
		}
	}
	a.Windows++
	a.Events, a.Numeric, a.Sequential, a.Denied, a.Foreign = 0, 0, 0, 0, 0
	a.Bytes, a.Records, a.Flagged = 0, 0, false
	a.ClientIPs = a.ClientIPs[:0]
	a.Objects.reset()
}

func (s *Store) observeLogin(o *Observation, ep *Endpoint, e *event.APIEvent, now int64) {
	o.Outcome = e.Login.Outcome
	failed := e.Login.Outcome == event.LoginOutcome_LOGIN_OUTCOME_FAILURE
	succeeded := e.Login.Outcome == event.LoginOutcome_LOGIN_OUTCOME_SUCCESS
	ep.Logins++
	if failed {
		ep.LoginFailures++
	}
	s.countLogin(ep, e.ClientIp, now, failed)

	src, ok := ep.sources.get(e.ClientIp)
	if !ok {
		src = &Source{IP: e.ClientIp, WindowStart: now}
		ep.sources.put(src.IP, src)
	}
	if now-src.WindowStart >= int64(s.cfg.Window) {
		if !src.Flagged && src.Attempts > 0 {
			_ = ep.SourceUsernames.Add(float64(src.Usernames.Len()))
		}
		*src = Source{IP: src.IP, WindowStart: now, Usernames: src.Usernames, RunFailures: src.RunFailures}
		src.Usernames.reset()
	}
	user := e.Login.UsernameHash
	src.Attempts++
	if user != "" {
		src.Usernames.add(hashKey(user), s.cfg.MaxExactObjects)
	}
	loginRun(&src.Failures, &src.RunFailures, &src.FailuresBeforeSuccess, failed, succeeded)
	o.Source = src

	if user == "" {
		return
	}
	u, ok := ep.usernames.get(user)
	if !ok {
		u = &Username{Hash: user, WindowStart: now}
		ep.usernames.put(user, u)
	}
	if now-u.WindowStart >= int64(s.cfg.Window) {
		*u = Username{Hash: user, WindowStart: now, Sources: u.Sources, RunFailures: u.RunFailures, ClientIPs: u.ClientIPs[:0],
			RunSources: u.RunSources, RunManySources: u.RunManySources}
		u.Sources.reset()
	}
	u.Attempts++
	u.Sources.add(hashKey(e.ClientIp), s.cfg.MaxExactObjects)
	u.ClientIPs = addIP(u.ClientIPs, e.ClientIp)
	fromRun := u.RunManySources || slices.Contains(u.RunSources, e.ClientIp)
	loginRun(&u.Failures, &u.RunFailures, &u.FailuresBeforeSuccess, failed, succeeded)
	switch {
	case failed:
		if !slices.Contains(u.RunSources, e.ClientIp) {
			u.RunManySources = u.RunManySources || len(u.RunSources) >= MaxClientIPs
			u.RunSources = addIP(u.RunSources, e.ClientIp)
		}
	case succeeded:
		if !fromRun {
			u.FailuresBeforeSuccess = 0
		}
		u.RunSources, u.RunManySources = u.RunSources[:0], false
	}
	o.Username = u
}

// countLogin counts one attempt from ip into the endpoint's login window,
// closing the window first when it is over.
func (s *Store) countLogin(ep *Endpoint, ip string, now int64, failed bool) {
	w := &ep.LoginWindow
	if now-w.Start >= int64(s.cfg.Window) || w.Sources == nil {
		if !w.Flagged && w.Attempts >= 10 {
			_ = ep.WindowFailureRatios.Add(float64(w.Failures) / float64(w.Attempts))
		}
		sources := w.Sources
		clear(sources)
		if sources == nil {
			sources = make(map[string]*SourceCount)
		}
		*w = LoginWindow{Start: now, Sources: sources}
	}
	w.Attempts++
	if failed {
		w.Failures++
	}
	c := w.Sources[ip]
	if c == nil {
		if len(w.Sources) >= ep.sources.limit() {
			return
		}
		c = &SourceCount{}
		w.Sources[ip] = c
		w.FewSources++
	}
	c.Attempts++
	if failed {
		c.Failures++
	}
	switch {
	case c.Attempts <= FewAttempts:
		if failed {
			w.FewFailures++
		}
	case c.Attempts == FewAttempts+1: // no longer one of the few
		w.FewSources--
		w.FewFailures -= uint64(c.Failures) - b2u(failed)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// loginRun counts one attempt into a window: failures, the current run of
// failures, and, on a success, how many failures preceded it.
func loginRun(failures, run, beforeSuccess *uint32, failed, succeeded bool) {
	switch {
	case failed:
		*failures++
		*run++
		*beforeSuccess = 0
	case succeeded:
		*beforeSuccess = *run
		*run = 0
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// Window returns the configured window.
func (s *Store) Window() time.Duration { return s.cfg.Window }
