package registry

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

// clientJSON is a client as the registry file writes it.
type clientJSON struct {
	ClientID        string   `json:"client_id"`
	Name            string   `json:"name,omitempty"`
	Description     string   `json:"description,omitempty"`
	Website         string   `json:"website,omitempty"`
	ContactEmail    string   `json:"contact_email,omitempty"`
	Notes           string   `json:"notes,omitempty"`
	Disabled        bool     `json:"disabled,omitempty"`
	ApplicationType string   `json:"application_type,omitempty"`
	RedirectURIs    []string `json:"redirect_uris"`
	LogoutURIs      []string `json:"post_logout_redirect_uris,omitempty"`
	RequestURIs     []string `json:"request_uris,omitempty"`
}

// MarshalJSON writes the client as a registry file holds it: its redirect
// URIs as registered, in their order. Parsing the result gives the same
// client, so that tools can compare clients by their encodings.
func (c *Client) MarshalJSON() ([]byte, error) {
	j := clientJSON{
		ClientID: c.ID, Name: c.Name, Description: c.Description, Website: c.Website,
		ContactEmail: c.ContactEmail, Notes: c.Notes, Disabled: c.Disabled,
		RedirectURIs: raws(c.URIs), RequestURIs: c.RequestURIs,
	}
	if c.Native {
		j.ApplicationType = ApplicationNative
	}
	if c.LogoutURIs.Len() > 0 {
		j.LogoutURIs = raws(c.LogoutURIs)
	}
	return json.Marshal(&j)
}

// raws returns the URIs of s as registered, in their order.
func raws(s *policy.Set) []string {
	r := make([]string, 0, s.Len())
	for _, e := range s.Entries() {
		r = append(r, e.Raw)
	}
	return r
}

// WriteFile writes clients as a registry file of the environment env, one
// client a line.
func WriteFile(w io.Writer, env policy.Environment, clients []*Client) error {
	bw := bufio.NewWriter(w)
	envJSON, _ := json.Marshal(string(env))
	bw.WriteString("{\n  \"environment\": ")
	bw.Write(envJSON)
	bw.WriteString(",\n  \"clients\": [")
	for i, c := range clients {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		data, err := c.MarshalJSON()
		if err != nil {
			return err
		}
		bw.Write(data)
	}
	if len(clients) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}
