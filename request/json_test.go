package request

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonSeeds = []string{
	``, ` `, `{}`, `[]`, `{"a":1}`, `{"a" : [1, 2.5, -3e+7, true, false, null, "x"]}`, ` {"a":{"b":{}}} `,
	`"\u00e9\"\\\/\b\f\n\r\t"`, `"\u00g0"`, `"\x"`, "\"\x01\"", "\"\xff\"", `0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`,
	`1E+`, `1e-5`, `tru`, `true1`, `nul`, `{"a"}`, `{"a":}`, `{,}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a":1 "b":2}`,
	`{} {}`, `{"a":1}x`, `[`, `{`, `"abc`, `{"a":[}`, `\u0000`, "{\"a\":1}\n", "\t[ ]\r\n",
}

func TestValidJSON(t *testing.T) {
	for _, s := range jsonSeeds {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v; json.Valid says %v", s, got, want)
		}
	}
	// encoding/json's nesting limit, from either side.
	for _, depth := range []int{maxJSONDepth, maxJSONDepth + 1} {
		s := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		if got, want := validJSON(s), json.Valid(s); got != want {
			t.Errorf("validJSON of %d nested arrays = %v; json.Valid says %v", depth, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid: the walkers after it take
// the grammar for granted, so it may accept nothing that json.Valid
// refuses, and it must not refuse what a server's parser reads.
func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v; json.Valid says %v", b, got, want)
		}
	})
}
