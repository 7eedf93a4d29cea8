package registry

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

func testClient(t testing.TB, p *policy.Policy, id string, uris ...string) *Client {
	t.Helper()
	set, err := p.Compile(uris)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{ID: id, URIs: set}
}

// TestUpdateMatchesAMap applies random puts and removals to incremental
// snapshots and checks every one against a plain map, including that an
// older snapshot never changes.
func TestUpdateMatchesAMap(t *testing.T) {
	p := mustPolicy(t, policy.Production)
	r := rand.New(rand.NewPCG(1, 2))
	model := map[string]*Client{}
	s := NewSnapshot("test", p, 1, nil)
	type saved struct {
		s     *Snapshot
		model map[string]*Client
	}
	var history []saved
	for round := range 300 {
		var put []*Client
		var remove []string
		changed := map[string]bool{}
		for range 1 + r.IntN(40) {
			id := fmt.Sprintf("C-%d", r.IntN(2000))
			if changed[id] {
				continue
			}
			changed[id] = true
			if r.IntN(3) == 0 {
				remove = append(remove, id)
				delete(model, id)
			} else {
				c := testClient(t, p, id, fmt.Sprintf("https://%s.example.com/cb%d", strings.ToLower(id), r.IntN(3)))
				put = append(put, c)
				model[id] = c
			}
		}
		s = s.Update(int64(round+2), put, remove)
		if round%50 == 0 {
			cp := make(map[string]*Client, len(model))
			for k, v := range model {
				cp[k] = v
			}
			history = append(history, saved{s, cp})
		}
	}
	history = append(history, saved{s, model})
	for i, h := range history {
		if h.s.Len() != len(h.model) {
			t.Fatalf("snapshot %d: Len %d, want %d", i, h.s.Len(), len(h.model))
		}
		uris := 0
		for id, c := range h.model {
			if got := h.s.Client(id); got != c {
				t.Fatalf("snapshot %d: Client(%q) = %v, want %v", i, id, got, c)
			}
			uris += c.URIs.Len()
		}
		if h.s.URIs() != uris {
			t.Errorf("snapshot %d: URIs %d, want %d", i, h.s.URIs(), uris)
		}
		for k := range 2000 {
			id := fmt.Sprintf("C-%d", k)
			if _, ok := h.model[id]; !ok && h.s.Client(id) != nil {
				t.Fatalf("snapshot %d: removed client %q still there", i, id)
			}
		}
		list := h.s.Clients()
		if len(list) != len(h.model) {
			t.Fatalf("snapshot %d: Clients has %d, want %d", i, len(list), len(h.model))
		}
		for j := 1; j < len(list); j++ {
			if list[j-1].ID >= list[j].ID {
				t.Fatalf("snapshot %d: Clients not in client_id order", i)
			}
		}
	}
}

// TestTreeCollisions checks the lists below the last level of the trie,
// where clients whose hashes agree on every bit meet.
func TestTreeCollisions(t *testing.T) {
	p := mustPolicy(t, policy.Production)
	b := treeBuilder{}
	n := &treeNode{}
	var old *Client
	for _, id := range []string{"A", "B", "C"} {
		n = b.putIn(n, testClient(t, p, id), 0, treeDepth, &old)
	}
	if len(n.slots) != 3 {
		t.Fatalf("collision list has %d clients, want 3", len(n.slots))
	}
	n = b.removeIn(n, "B", 0, treeDepth, &old)
	if old == nil || old.ID != "B" || len(n.slots) != 2 {
		t.Fatalf("removing B: removed %v, %d left", old, len(n.slots))
	}
}

func TestParseClient(t *testing.T) {
	p := mustPolicy(t, policy.Production)
	c, err := ParseClient("k", "APP-1", []byte(`{"client_id": "APP-1", "name": "One", "redirect_uris": ["https://a.example.com/cb"]}`), p)
	if err != nil || c.Name != "One" || !c.URIs.Decide("https://a.example.com/cb").Allowed() {
		t.Fatalf("ParseClient = %+v, %v", c, err)
	}
	// Its encoding parses to the same client.
	data, _ := c.MarshalJSON()
	again, err := ParseClient("k", "APP-1", data, p)
	if err != nil || again.Name != c.Name || again.URIs.Len() != 1 {
		t.Fatalf("re-parse of %s = %+v, %v", data, again, err)
	}
	for _, tc := range []struct{ value, want string }{
		{``, "k:1:1: value is empty"},
		{`{"client_id": "APP-1"} x`, "k:1:24: trailing data after the client object"},
		{`{"client_id": "APP-1", "Redirect_uris": []}`, `k:1:24: unknown field "Redirect_uris" (field names are case-sensitive: did you mean "redirect_uris"?)`},
		{`{"client_id": "APP-1", "redirect_uris": ["http://a.example.com/cb"]}`, `k:1:42: client "APP-1" redirect_uris[0] "http://a.example.com/cb"`},
		{`{"client_id": "APP-2"}`, `k:1:1: client_id "APP-2" does not match the key's "APP-1"`},
		{`{"name": "x"}`, `k:1:1: the client: missing field "client_id"`},
		{`{"client_id": null}`, `k:1:15: client_id: want a string, got null`},
		{`[]`, `k:1:1: the client: want an object, got an array`},
	} {
		_, err := ParseClient("k", "APP-1", []byte(tc.value), p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseClient(%q) = %v, want %q", tc.value, err, tc.want)
		}
	}
}

// BenchmarkUpdate changes a few clients of registries of growing size: the
// cost follows the clients changed, not the registry.
func BenchmarkUpdate(b *testing.B) {
	p := mustPolicy(b, policy.Production)
	for _, size := range []int{1_000, 10_000, 100_000} {
		clients := make([]*Client, size)
		for i := range clients {
			clients[i] = testClient(b, p, fmt.Sprintf("APP-%07d", i), fmt.Sprintf("https://app%d.example.com/cb", i))
		}
		base := NewSnapshot("bench", p, 1, clients)
		for _, changed := range []int{1, 10, 100} {
			put := make([]*Client, changed)
			for i := range put {
				put[i] = testClient(b, p, fmt.Sprintf("APP-%07d", i*(size/changed)), "https://changed.example.com/cb")
			}
			b.Run(fmt.Sprintf("clients=%d/changed=%d", size, changed), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if s := base.Update(2, put, nil); s.Len() != size {
						b.Fatal(s.Len())
					}
				}
			})
		}
	}
}

// TestMarshalKeepsEveryField guards publish, export and the etcd cache: a
// client written back must carry every field the registry file can hold.
func TestMarshalKeepsEveryField(t *testing.T) {
	p := mustPolicy(t, policy.Production)
	in := `{"client_id": "APP-1", "name": "One", "description": "d", "website": "https://one.example.com",
		"contact_email": "ops@one.example.com", "notes": "n", "disabled": true,
		"application_type": "native", "redirect_uris": ["https://a.example.com/cb", "com.example.app:/cb"],
		"post_logout_redirect_uris": ["https://a.example.com/bye"], "request_uris": ["https://a.example.com/req.jwt"]}`
	c, err := ParseClient("k", "APP-1", []byte(in), p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("encoding lost or changed fields:\n got %v\nwant %v", got, want)
	}
}
