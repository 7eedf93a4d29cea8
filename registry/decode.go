package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// fileDoc is the registry file as decoded, with the offset of each value so
// that problems found later can name their line and column.
type fileDoc struct {
	environment    string
	hasEnvironment bool
	envOffset      int
	clients        []clientDoc
}

type clientDoc struct {
	offset                                          int
	clientID                                        string
	hasClientID                                     bool
	name, description, website, contactEmail, notes string
	disabled                                        bool
	redirectURIs                                    []string
	uriOffsets                                      []int // where each redirect URI is
	uriIndex                                        []int // its index in the file's list
}

// decoder reads a registry file strictly: field names are matched exactly,
// unknown and duplicate fields, nulls, wrong types and trailing data are
// problems. It goes on after a problem in a value so that one load reports
// as many problems as it can; a syntax error ends it.
type decoder struct {
	data     []byte
	dec      *json.Decoder
	problems *problemList
}

// errStop ends decoding after a syntax error, already recorded.
var errStop = errors.New("stop")

func decodeFile(data []byte, problems *problemList) (*fileDoc, bool) {
	if !utf8.Valid(data) {
		problems.add(bytes.IndexFunc(data, func(r rune) bool { return r == utf8.RuneError }), "file is not valid UTF-8")
		return nil, false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		problems.add(0, "file is empty")
		return nil, false
	}
	d := &decoder{data: data, dec: json.NewDecoder(bytes.NewReader(data)), problems: problems}
	d.dec.UseNumber()
	doc := &fileDoc{}
	err := d.object("the registry", func(key string, at int) error {
		switch key {
		case "environment":
			doc.envOffset = at
			doc.hasEnvironment = true
			return d.str(key, &doc.environment)
		case "clients":
			return d.array(key, func(i int, at int) error {
				c := clientDoc{offset: at}
				err := d.client(fmt.Sprintf("clients[%d]", i), &c)
				doc.clients = append(doc.clients, c)
				return err
			})
		}
		return d.unknown(key, at)
	}, func(seen map[string]bool) {
		if !seen["clients"] {
			d.problems.add(0, `missing field "clients"`)
		}
	})
	if err != nil {
		return nil, false
	}
	if _, err := d.dec.Token(); err != io.EOF {
		d.problems.add(d.next(), "trailing data after the registry object")
	}
	return doc, true
}

func (d *decoder) client(what string, c *clientDoc) error {
	return d.object(what, func(key string, at int) error {
		switch key {
		case "client_id":
			c.hasClientID = true
			return d.str(what+".client_id", &c.clientID)
		case "name":
			return d.str(what+".name", &c.name)
		case "description":
			return d.str(what+".description", &c.description)
		case "website":
			return d.str(what+".website", &c.website)
		case "contact_email":
			return d.str(what+".contact_email", &c.contactEmail)
		case "notes":
			return d.str(what+".notes", &c.notes)
		case "disabled":
			return d.boolean(what+".disabled", &c.disabled)
		case "redirect_uris":
			c.redirectURIs = []string{}
			return d.array(what+".redirect_uris", func(i, at int) error {
				s, ok := "", false
				if err := d.strOK(fmt.Sprintf("%s.redirect_uris[%d]", what, i), &s, &ok); err != nil || !ok {
					return err
				}
				c.redirectURIs = append(c.redirectURIs, s)
				c.uriOffsets = append(c.uriOffsets, at)
				c.uriIndex = append(c.uriIndex, i)
				return nil
			})
		}
		return d.unknown(what+"."+key, at)
	}, func(seen map[string]bool) {
		if !seen["client_id"] {
			d.problems.add(c.offset, what+`: missing field "client_id"`)
		}
	})
}

// next returns the offset of the start of the next token.
func (d *decoder) next() int {
	i := int(d.dec.InputOffset())
	for i < len(d.data) {
		switch d.data[i] {
		case ' ', '\t', '\r', '\n', ':', ',':
			i++
			continue
		}
		break
	}
	return i
}

// token reads the next token, recording a syntax error as a problem.
func (d *decoder) token() (json.Token, int, error) {
	at := d.next()
	tok, err := d.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			d.problems.add(int(se.Offset), "invalid JSON: "+se.Error())
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			d.problems.add(len(d.data), "invalid JSON: unexpected end of file")
		default:
			d.problems.add(at, "invalid JSON: "+err.Error())
		}
		return nil, at, errStop
	}
	return tok, at, nil
}

// object reads an object, calling field for each key with the offset of the
// key; a duplicate key is a problem and its value is skipped.
func (d *decoder) object(what string, field func(key string, at int) error, done func(seen map[string]bool)) error {
	tok, at, err := d.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		d.problems.add(at, fmt.Sprintf("%s: want an object, got %s", what, describe(tok)))
		return d.skip(tok)
	}
	seen := map[string]bool{}
	for d.dec.More() {
		tok, at, err := d.token()
		if err != nil {
			return err
		}
		key := tok.(string)
		if seen[key] {
			d.problems.add(at, fmt.Sprintf("%s: duplicate field %q", what, key))
			if err := d.skipValue(); err != nil {
				return err
			}
			continue
		}
		seen[key] = true
		if err := field(key, at); err != nil {
			return err
		}
	}
	if _, _, err := d.token(); err != nil {
		return err
	}
	done(seen)
	return nil
}

func (d *decoder) array(what string, elem func(i, at int) error) error {
	tok, at, err := d.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		d.problems.add(at, fmt.Sprintf("%s: want an array, got %s", what, describe(tok)))
		return d.skip(tok)
	}
	for i := 0; d.dec.More(); i++ {
		if err := elem(i, d.next()); err != nil {
			return err
		}
	}
	_, _, err = d.token()
	return err
}

func (d *decoder) str(what string, dst *string) error {
	var ok bool
	return d.strOK(what, dst, &ok)
}

// strOK is str that also tells whether a string was read.
func (d *decoder) strOK(what string, dst *string, ok *bool) error {
	tok, at, err := d.token()
	if err != nil {
		return err
	}
	s, isStr := tok.(string)
	if !isStr {
		d.problems.add(at, fmt.Sprintf("%s: want a string, got %s", what, describe(tok)))
		return d.skip(tok)
	}
	*dst, *ok = s, true
	return nil
}

func (d *decoder) boolean(what string, dst *bool) error {
	tok, at, err := d.token()
	if err != nil {
		return err
	}
	b, ok := tok.(bool)
	if !ok {
		d.problems.add(at, fmt.Sprintf("%s: want true or false, got %s", what, describe(tok)))
		return d.skip(tok)
	}
	*dst = b
	return nil
}

func (d *decoder) unknown(what string, at int) error {
	d.problems.add(at, fmt.Sprintf("unknown field %q (field names are case-sensitive)", what))
	return d.skipValue()
}

func (d *decoder) skipValue() error {
	tok, _, err := d.token()
	if err != nil {
		return err
	}
	return d.skip(tok)
}

// skip consumes the rest of a value whose first token was tok.
func (d *decoder) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, _, err := d.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "an array"
	}
	return fmt.Sprintf("%v", tok)
}
