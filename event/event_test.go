package event

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

func sample() *APIEvent {
	e := &APIEvent{
		Kind: Kind_KIND_HTTP, SensorId: "span-1",
		RequestStartNs: 1_700_000_000_000_000_000, ResponseEndNs: 1_700_000_000_012_000_000, LatencyNs: 12_000_000,
		Flow:     &Flow{SrcIp: "192.0.2.10", DstIp: "2001:db8::1", SrcPort: 51000, DstPort: 443, Vlan: []uint32{10, 20}, Vni: 7},
		ClientIp: "203.0.113.5",
		Request: &Request{Method: "GET", Host: "api.example.com", Path: "/v1/users/42?fields=*",
			Endpoint: "GET api.example.com /v1/users/{id}", Template: "/v1/users/{id}", QueryParams: []string{"fields"}, BodyBytes: 0},
		Response: &Response{Status: 200, BodyBytes: 5120, WireBytes: 1400, ContentType: "application/json",
			Shape:     &Shape{FieldPaths: []string{"email", "name"}, Records: 1, Format: "json"},
			Sensitive: []*SensitiveCount{{Class: SensitiveClass_SENSITIVE_CLASS_EMAIL, Count: 1}}},
		Actor:     &Actor{Id: "9f86d081884c7d659a2feaa0c55ad015", Kind: ActorKind_ACTOR_KIND_JWT, Issuer: "https://idp.example.com"},
		ObjectIds: []*ObjectID{{Param: "id", Value: &ObjectID_Number{Number: 42}}, {Param: "order", Value: &ObjectID_Hash{Hash: "ab12"}}},
		Login:     &Login{UsernameHash: "c0ffee", Outcome: LoginOutcome_LOGIN_OUTCOME_FAILURE, Method: "json"},
		Quality:   []Quality{Quality_QUALITY_GAP},
	}
	Stamp(e)
	return e
}

func TestRoundTrip(t *testing.T) {
	e := sample()
	b, err := Marshal(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	var got APIEvent
	if err := Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, &got) {
		t.Errorf("binary round trip changed the event:\n got %v\nwant %v", &got, e)
	}

	j, err := MarshalJSON(e)
	if err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if err := UnmarshalJSON(j, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, &got) {
		t.Errorf("JSON round trip changed the event:\n got %v\nwant %v\njson %s", &got, e, j)
	}
}

func TestVersions(t *testing.T) {
	// A newer minor of the same major reads fine.
	e := sample()
	e.SchemaMinor = 9
	b, _ := Marshal(nil, e)
	var got APIEvent
	if err := Unmarshal(b, &got); err != nil {
		t.Errorf("minor 9: %v", err)
	}

	// An unknown major is refused, with a message saying what to do.
	e.SchemaMajor = 2
	b, _ = Marshal(nil, e)
	err := Unmarshal(b, &got)
	var uv *UnsupportedVersionError
	if !errors.As(err, &uv) || uv.Major != 2 {
		t.Fatalf("major 2: %v, want UnsupportedVersionError", err)
	}
	j, _ := MarshalJSON(e)
	if err := UnmarshalJSON(j, &got); !errors.As(err, &uv) {
		t.Errorf("JSON major 2: %v", err)
	}

	// Garbage and version-less bytes are not events.
	for _, b := range [][]byte{[]byte("\xff\xff\xff garbage"), {}, []byte("{\"kind\":1}")} {
		if err := Unmarshal(b, &got); !errors.Is(err, ErrNotEvent) {
			t.Errorf("Unmarshal(%q) = %v, want ErrNotEvent", b, err)
		}
	}
	if _, err := Marshal(nil, &APIEvent{}); err == nil {
		t.Error("Marshal without a schema version succeeded")
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := Marshal(nil, sample())
	f.Add(b)
	f.Add([]byte{0x08, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e APIEvent
		if err := Unmarshal(b, &e); err == nil && e.SchemaMajor != SchemaMajor {
			t.Fatalf("accepted schema major %d", e.SchemaMajor)
		}
	})
}
