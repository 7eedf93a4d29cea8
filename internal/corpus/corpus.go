// Package corpus reads the corpora of redirect URI test vectors
// (policy/testdata/*_cases.json: the public corpus, native clients,
// logout) for the tests of every package that runs them.
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
	// ApplicationType is the client's: "" or "web" (the default), or
	// "native".
	ApplicationType string `json:"application_type"`
	// Endpoint is "" for the authorize endpoint or "logout", where
	// Registered are post_logout_redirect_uris and RedirectURI is a
	// post_logout_redirect_uri.
	Endpoint string `json:"endpoint"`
}

// Native reports whether the case's client is a native app.
func (c Case) Native() bool { return c.ApplicationType == "native" }

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
			(c.Environment != "sandbox" && c.Environment != "production") || (c.RegistryError && c.Expect != "reject") ||
			(c.ApplicationType != "" && c.ApplicationType != "web" && c.ApplicationType != "native") ||
			(c.Endpoint != "" && c.Endpoint != "logout") || (c.Endpoint != "" && c.RawQuery != nil) {
			tb.Fatalf("%s: case %s is not one the tests know how to run", path, c.ID)
		}
	}
	return file.Cases
}
