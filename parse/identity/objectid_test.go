package identity

import (
	"reflect"
	"strings"
	"testing"
)

func TestObjectIDs(t *testing.T) {
	r := newTest(Config{})
	h := func(v string) string { return r.Hash(DomainObject, []byte(v)) }
	num := func(p string, n uint64) ObjectID { return ObjectID{Param: p, Number: n, IsNumber: true} }
	hashed := func(p, v string) ObjectID { return ObjectID{Param: p, Hash: h(v)} }
	cases := []struct {
		name    string
		params  []Param
		query   string
		want    []ObjectID
		secrets []string
	}{
		{"numeric path", []Param{{"id", "42", true}}, "", []ObjectID{num("id", 42)}, nil},
		{"digits not flagged numeric still a number", []Param{{"id", "0042", false}}, "", []ObjectID{num("id", 42)}, nil},
		{"overflow hashed", []Param{{"id", "99999999999999999999", true}}, "", []ObjectID{hashed("id", "99999999999999999999")}, []string{"99999999999999999999"}},
		{"uuid hashed, case-folded", []Param{{"orgId", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", false}}, "",
			[]ObjectID{hashed("orgId", "3f2504e0-4f89-11d3-9a0c-0305e82c3301")}, []string{"3F2504E0-4F89-11D3-9A0C-0305E82C3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}},
		{"slug hashed as is", []Param{{"name", "Alice-Smith", false}}, "", []ObjectID{hashed("name", "Alice-Smith")}, []string{"Alice-Smith"}},
		{"empty path value skipped", []Param{{"id", "", false}}, "", nil, nil},
		{"query ID-like names", nil, "user_id=7&page=2&orderId=9&limit=50&uuid=abc-def-123&sort=asc",
			[]ObjectID{num("user_id", 7), num("orderId", 9), hashed("uuid", "abc-def-123")}, []string{"abc-def-123"}},
		{"query comma list", nil, "ids=1,2,,3", []ObjectID{num("ids", 1), num("ids", 2), num("ids", 3)}, nil},
		{"query repeated", nil, "id=5&id=6", []ObjectID{num("id", 5), num("id", 6)}, nil},
		{"query percent-decoded value", nil, "account=acme%20corp&customer=a+b", []ObjectID{hashed("account", "acme corp"), hashed("customer", "a b")}, []string{"acme corp", "acme%20corp"}},
		{"query bracket name", nil, "filter%5Buser_id%5D=12", []ObjectID{num("filter[user_id]", 12)}, nil},
		{"credentials and per-request ids are no objects", nil,
			"session_id=s3cr3t-session&api_key=k&client_id=web&request_id=r1&trace_id=t&access_token=tok&state=x",
			nil, []string{"s3cr3t-session"}},
		{"path then query", []Param{{"id", "10", true}}, "comment_id=11", []ObjectID{num("id", 10), num("comment_id", 11)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.ObjectIDs(c.params, c.query, nil)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			var outs []string
			for _, o := range got {
				outs = append(outs, o.Hash)
			}
			noSecrets(t, outs, c.secrets...)
		})
	}
	// The same object under two names hashes once.
	a := r.ObjectIDs([]Param{{"id", "inv_AbC123", false}}, "invoice=inv_AbC123", nil)
	if len(a) != 2 || a[0].Hash != a[1].Hash {
		t.Errorf("%+v", a)
	}
	// Bounded.
	big := strings.Repeat("id=1&", 200)
	if n := len(r.ObjectIDs(nil, big, nil)); n != MaxObjectIDs {
		t.Errorf("got %d ids", n)
	}
	// Appends to dst.
	dst := make([]ObjectID, 1, 8)
	if got := r.ObjectIDs([]Param{{"id", "1", true}}, "", dst); len(got) != 2 {
		t.Errorf("%+v", got)
	}
}

func TestIsIDParam(t *testing.T) {
	for name, want := range map[string]bool{
		"id": true, "ID": true, "user_id": true, "userId": true, "orderID": true, "item-id": true, "customer": true,
		"tenant_uuid": true, "invoice_no": true, "accountIds": true, "data.id": true, "filter[product_id]": true,
		"page": false, "limit": false, "sort": false, "q": false, "valid": false, "paid": false, "Idx": false,
		"session_id": false, "client_id": false, "api_key": false, "keyId": false, "request_id": false,
		"access_token": false, "idempotency_key": false, "utm_id": false, "": false,
	} {
		if got := IsIDParam(name); got != want {
			t.Errorf("%q: got %v", name, got)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"a=1":                        "a=*",
		"a=1&b=&c":                   "a=*&b=&c",
		"api_key=sk_live_123&page=2": "api_key=*&page=*",
		"&&x=1&&":                    "x=*",
		"a=b=c":                      "a=*",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig": "*",
		"short":                        "short",
		strings.Repeat("n", 65) + "=v": "*=*",
		"token=a%20b%26c&redirect=https%3A%2F%2Fx": "token=*&redirect=*",
	} {
		got := string(RedactQuery(in, nil))
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
		noSecrets(t, []string{got}, "sk_live_123", "eyJhbGciOiJIUzI1NiJ9", "a%20b%26c")
	}
	if got := string(RedactQuery("a=1", []byte("/p?"))); got != "/p?a=*" {
		t.Errorf("append: %q", got)
	}
}
