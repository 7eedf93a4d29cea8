// Package corpus reads the public corpus of redirect URI test vectors
// (policy/testdata/redirect_cases.json) for the tests of every package
// that runs it.
package corpus

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// Case is one test vector of the corpus; see its "description".
type Case struct {
	ID            string   `json:"id"`
	Class         string   `json:"class"`
	Source        string   `json:"source"`
	Environment   string   `json:"environment"`
	Registered    []string `json:"registered"`
	RedirectURI   *string  `json:"redirect_uri"`
	RawQuery      *string  `json:"raw_query"`
	Expect        string   `json:"expect"`
	RegistryError bool     `json:"registry_error"`
	Note          string   `json:"note"`
}

// Load reads the corpus at path. It fails tb on an unknown field, on an
// empty corpus and on a case that none of the tests knows how to run, so
// that a changed corpus cannot pass by being skipped.
func Load(tb testing.TB, path string) []Case {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Version     int    `json:"version"`
		Description string `json:"description"`
		Cases       []Case `json:"cases"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if len(file.Cases) == 0 {
		tb.Fatalf("%s has no cases", path)
	}
	for _, c := range file.Cases {
		if (c.RedirectURI == nil) == (c.RawQuery == nil) || (c.Expect != "allow" && c.Expect != "reject") ||
			(c.Environment != "sandbox" && c.Environment != "production") || (c.RegistryError && c.Expect != "reject") {
			tb.Fatalf("%s: case %s is not one the tests know how to run", path, c.ID)
		}
	}
	return file.Cases
}
