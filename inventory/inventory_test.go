package inventory

import (
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/event"
)

func ev(endpoint string, ts int64, status uint32, kind event.ActorKind, sensitive ...event.SensitiveClass) *event.APIEvent {
	e := &event.APIEvent{Kind: event.Kind_KIND_HTTP, RequestStartNs: ts,
		Request:  &event.Request{Endpoint: endpoint, Method: strings.Fields(endpoint)[0]},
		Response: &event.Response{Status: status},
		Actor:    &event.Actor{Kind: kind}}
	for _, c := range sensitive {
		e.Response.Sensitive = append(e.Response.Sensitive, &event.SensitiveCount{Class: c, Count: 2})
	}
	return e
}

func TestInventory(t *testing.T) {
	inv := New(2)
	users := "GET api.example.com /v1/users/{id}"
	login := "POST api.example.com /login"
	inv.Add(ev(users, 2e9, 200, event.ActorKind_ACTOR_KIND_JWT, event.SensitiveClass_SENSITIVE_CLASS_EMAIL))
	inv.Add(ev(users, 1e9, 404, event.ActorKind_ACTOR_KIND_JWT))
	inv.Add(ev(users, 3e9, 200, event.ActorKind_ACTOR_KIND_CLIENT_IP, event.SensitiveClass_SENSITIVE_CLASS_EMAIL))
	l := ev(login, 4e9, 401, event.ActorKind_ACTOR_KIND_CLIENT_IP)
	l.Login = &event.Login{Outcome: event.LoginOutcome_LOGIN_OUTCOME_FAILURE}
	l.Request.Shadow = true
	inv.Add(l)
	inv.Add(ev("GET api.example.com /third", 5e9, 200, 0)) // over the cap
	inv.Add(&event.APIEvent{Kind: event.Kind_KIND_TLS})    // no endpoint

	eps := inv.Endpoints()
	if len(eps) != 2 || eps[0].Endpoint != users || eps[1].Endpoint != login {
		t.Fatalf("endpoints %v", eps)
	}
	u := eps[0]
	if u.Count != 3 || u.Statuses[200] != 2 || u.Statuses[404] != 1 || u.AuthKinds["jwt"] != 2 || u.AuthKinds["client_ip"] != 1 ||
		u.Sensitive["email"] != 4 || u.FirstSeen.UnixNano() != 1e9 || u.LastSeen.UnixNano() != 3e9 {
		t.Errorf("users: %+v", u)
	}
	if inv.Dropped != 1 {
		t.Errorf("dropped %d, want 1", inv.Dropped)
	}
	// Merging another worker's inventory adds up per endpoint.
	other := New(0)
	other.Add(ev(users, 0.5e9, 500, event.ActorKind_ACTOR_KIND_JWT))
	inv.Merge(other)
	if u.Count != 4 || u.Statuses[500] != 1 || u.AuthKinds["jwt"] != 3 || u.FirstSeen.UnixNano() != 0.5e9 {
		t.Errorf("after merge: %+v", u)
	}

	var b strings.Builder
	inv.WriteTable(&b)
	for _, want := range []string{"200×2 404×1 500×1", "jwt×3 client_ip×1", "email×4", "shadow (not in spec), login (1)", "2 endpoints; 1 events of further endpoints not tracked"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
