package registry

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// TestStringEscapes checks that strings decode as encoding/json decodes
// them.
func TestStringEscapes(t *testing.T) {
	for _, raw := range []string{
		`"plain"`,
		`""`,
		`"\"\\\/\b\f\n\r\t"`,
		`"caf\u00e9 \u00E9 é"`,
		`"\ud83d\ude00 😀"`,
		`"lone \ud800 high"`,
		`"lone \udc00 low"`,
		`"high then text \ud83dx"`,
		`"high then non-low \ud83d\u0041"`,
		`"\u0000\u001f"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		file := `{"clients": [{"client_id": "APP-1", "name": ` + raw + `}]}`
		s, err := Parse("escapes.json", []byte(file), mustPolicy(t, policy.Production))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := s.Client("APP-1").Name; got != want {
			t.Errorf("%s decoded as %q, want %q", raw, got, want)
		}
	}
}

// TestDeepNesting checks that deeply nested values are refused, not a
// stack to exhaust.
func TestDeepNesting(t *testing.T) {
	for _, depth := range []int{maxDepth, 100_000} {
		file := `{"clients": [], "x": ` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		_, err := Parse("deep.json", []byte(file), mustPolicy(t, policy.Production))
		if err == nil {
			t.Fatalf("depth %d: no error", depth)
		}
		want := `unknown field "x"`
		if depth > maxDepth {
			want = "past the maximum nesting depth"
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("depth %d: %v, want %q", depth, err, want)
		}
	}
}

// FuzzScanner checks the scanner against encoding/json: it accepts exactly
// the values json.Valid accepts, and decodes strings to the same text.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.5e+10`, `1E5`, `01`, `-`, `1.`, `.5`, `1e`, `true`, `tru`, `nul`, `null`,
		`{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{"a":}`, `{1:2}`, `"\u12"`, `"\x"`, "\"\t\"", `"\ud800"`,
		`{"clients": [{"client_id": "A", "redirect_uris": ["https://a.example/cb"]}]}`,
		`[[[[]]]]`, `[{"a":[{"b":null}]}]`, " \n\t\r[ 1 , 2 ] ", "\"\xff\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &decoder{data: data, problems: &problemList{data: data}}
		err := d.skipValue(0)
		d.ws()
		ours := err == nil && d.pos == len(data)
		if valid := json.Valid(data); ours != valid {
			t.Fatalf("%q: scanner accepts %v, json.Valid %v (%v)", data, ours, valid, d.problems.errors)
		}
		if !ours {
			if len(d.problems.errors) == 0 && err != nil {
				t.Fatalf("%q: rejected without a problem", data)
			}
			return
		}
		d = &decoder{data: data, problems: &problemList{data: data}}
		d.ws()
		// Strings are compared only in valid UTF-8: decodeFile refuses
		// anything else before scanning.
		if d.pos < len(data) && data[d.pos] == '"' && utf8.Valid(data) {
			var got, want string
			if err := d.str(top, &got, nil); err != nil {
				t.Fatalf("%q: %v", data, err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("%q: %v", data, err)
			}
			if got != want {
				t.Fatalf("%q decoded as %q, want %q", data, got, want)
			}
		}
	})
}

// TestPosition checks lines and columns asked for in any order against a
// count from the start of the file.
func TestPosition(t *testing.T) {
	data := []byte("{\n\n  \"a\": 1,\r\n\t\"b\": [\n\"é\"]\n}\n\nx")
	l := &problemList{data: data}
	r := rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		off := r.IntN(len(data)+3) - 1
		line, col := l.position(off)
		o := max(0, min(off, len(data)))
		wantLine := bytes.Count(data[:o], []byte{'\n'}) + 1
		wantCol := o - (bytes.LastIndexByte(data[:o], '\n') + 1) + 1
		if line != wantLine || col != wantCol {
			t.Fatalf("position(%d) = %d:%d, want %d:%d", off, line, col, wantLine, wantCol)
		}
	}
}
