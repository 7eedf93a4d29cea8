package registry

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// fileDoc is the registry file as decoded, with the offset of each value so
// that problems found later can name their line and column.
type fileDoc struct {
	environment    string
	hasEnvironment bool
	envOffset      int
	clients        []clientDoc

	// The redirect URIs and the post-logout redirect URIs of all clients,
	// each client's a span of them: one allocation for the file rather
	// than three per client.
	redirect, logout uriList
}

// uriList is the URIs of one field of all clients.
type uriList struct {
	uris    []string
	offsets []int // where each URI is
	index   []int // its index in its client's list in the file
}

// span is one client's part of a uriList.
type span struct{ start, end int }

// of returns the URIs, offsets and indexes of sp.
func (l *uriList) of(sp span) (uris []string, offsets, index []int) {
	return l.uris[sp.start:sp.end:sp.end], l.offsets[sp.start:sp.end], l.index[sp.start:sp.end]
}

type clientDoc struct {
	offset                                          int
	clientID                                        string
	hasClientID                                     bool // a string client_id was read
	name, description, website, contactEmail, notes string
	disabled                                        bool
	applicationType                                 string
	appTypeOffset                                   int
	redirect, logout                                span // of fileDoc.redirect and fileDoc.logout
	requestURIs                                     []string
	requestURIOffsets                               []int
}

// The field names of the registry file. A field's bit in an object's mask
// of seen fields is 1 << its index.
const (
	keyEnvironment = iota
	keyClients
	keyClientID
	keyName
	keyDescription
	keyWebsite
	keyContactEmail
	keyNotes
	keyDisabled
	keyRedirectURIs
	keyRequestURIs
	keyApplicationType
	keyPostLogoutRedirectURIs
	keyUnknown = -1
)

var keyNames = [...]string{
	keyEnvironment:  "environment",
	keyClients:      "clients",
	keyClientID:     "client_id",
	keyName:         "name",
	keyDescription:  "description",
	keyWebsite:      "website",
	keyContactEmail: "contact_email",
	keyNotes:        "notes",
	keyDisabled:     "disabled",
	keyRedirectURIs: "redirect_uris",
	keyRequestURIs:  "request_uris",

	keyApplicationType:        "application_type",
	keyPostLogoutRedirectURIs: "post_logout_redirect_uris",
}

// The fields each object may have.
const (
	topFields    = 1<<keyEnvironment | 1<<keyClients
	clientFields = 1<<keyClientID | 1<<keyName | 1<<keyDescription | 1<<keyWebsite |
		1<<keyContactEmail | 1<<keyNotes | 1<<keyDisabled | 1<<keyRedirectURIs | 1<<keyRequestURIs |
		1<<keyApplicationType | 1<<keyPostLogoutRedirectURIs
)

// maxDepth bounds the nesting of skipped values, as encoding/json does.
const maxDepth = 10000

// where names a value of the file in problems, built only when one is
// reported: "the registry", "clients[3]", "clients[3].redirect_uris[1]".
type where struct {
	client int    // -1 outside the clients list, oneClient for a lone client
	field  string // "" for the object itself
	index  int    // -1 unless an element of an array field
}

// oneClient is where.client for the fields of a client read alone (a
// value of an incremental source), named without a clients[i] prefix.
const oneClient = -2

var top = where{client: -1, index: -1}

func (w where) String() string {
	var b strings.Builder
	if w.client == oneClient && w.field == "" {
		return "the client"
	}
	if w.client >= 0 {
		b.WriteString("clients[")
		b.WriteString(strconv.Itoa(w.client))
		b.WriteByte(']')
		if w.field != "" {
			b.WriteByte('.')
		}
	} else if w.field == "" {
		return "the registry"
	}
	b.WriteString(w.field)
	if w.index >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(w.index))
		b.WriteByte(']')
	}
	return b.String()
}

func (w where) sub(field string) where { return where{client: w.client, field: field, index: -1} }

// decoder reads a registry file strictly: field names are matched exactly,
// unknown and duplicate fields, nulls, wrong types and trailing data are
// problems. It goes on after a problem in a value so that one load reports
// as many problems as it can; a syntax error ends it.
//
// It is a small hand-written scanner rather than encoding/json's Decoder:
// Token allocates for every value and does not know where a syntax error
// inside a value is, and a registry of 100,000 clients must load in well
// under a second.
type decoder struct {
	data     []byte
	pos      int
	problems *problemList
	buf      []byte // scratch for strings with escapes
}

// errStop ends decoding after a syntax error, already recorded.
var errStop = errors.New("stop")

// newDecoder checks what makes data unreadable as a whole (not UTF-8,
// empty, a byte order mark) and returns a decoder at its first value.
func newDecoder(data []byte, problems *problemList, what string) (*decoder, bool) {
	if at := invalidUTF8(data); at >= 0 {
		problems.add(at, what+" is not valid UTF-8")
		return nil, false
	}
	d := &decoder{data: data, problems: problems}
	d.ws()
	if d.pos == len(data) {
		problems.add(0, what+" is empty")
		return nil, false
	}
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		problems.add(0, what+" starts with a byte order mark (U+FEFF): save it as UTF-8 without BOM")
		return nil, false
	}
	return d, true
}

// trailing reports anything after the top-level value.
func (d *decoder) trailing(what string) {
	d.ws()
	if d.pos < len(d.data) {
		d.problems.add(d.pos, "trailing data after the "+what+" object")
	}
}

// decodeClient reads one client object alone, as an incremental source
// stores each client: the fields, rules and messages of a client in the
// file.
func decodeClient(data []byte, problems *problemList) (*fileDoc, bool) {
	d, ok := newDecoder(data, problems, "value")
	if !ok {
		return nil, false
	}
	doc := &fileDoc{clients: []clientDoc{{offset: d.pos}}}
	if err := d.client(oneClient, doc); err != nil {
		return nil, false
	}
	d.trailing("client")
	return doc, true
}

func decodeFile(data []byte, problems *problemList) (*fileDoc, bool) {
	d, ok := newDecoder(data, problems, "file")
	if !ok {
		return nil, false
	}
	// Capacity hints, so that the lists are not copied as they grow: a
	// registry is mostly client ids and redirect URIs.
	doc := &fileDoc{clients: make([]clientDoc, 0, bytes.Count(data, []byte(`"client_id"`)))}
	nURIs := bytes.Count(data, []byte(`"http`))
	doc.redirect.uris = make([]string, 0, nURIs)
	doc.redirect.offsets = make([]int, 0, nURIs)
	doc.redirect.index = make([]int, 0, nURIs)
	seen, isObject, err := d.object(top, topFields, func(k int, at int) error {
		switch k {
		case keyEnvironment:
			doc.envOffset = at
			return d.str(top.sub("environment"), &doc.environment, &doc.hasEnvironment)
		case keyClients:
			return d.array(top.sub("clients"), func(i, at int) error {
				doc.clients = append(doc.clients, clientDoc{offset: at})
				return d.client(i, doc)
			})
		}
		panic("unreachable")
	})
	if err != nil {
		return nil, false
	}
	if isObject && seen&(1<<keyClients) == 0 {
		d.problems.add(0, `missing field "clients"`)
	}
	d.trailing("registry")
	return doc, true
}

// client reads the object of clients[i], the last of doc.clients.
func (d *decoder) client(i int, doc *fileDoc) error {
	w := where{client: i, index: -1}
	c := &doc.clients[len(doc.clients)-1]
	c.redirect = span{len(doc.redirect.uris), len(doc.redirect.uris)}
	c.logout = span{len(doc.logout.uris), len(doc.logout.uris)}
	seen, isObject, err := d.object(w, clientFields, func(k int, at int) error {
		switch k {
		case keyClientID:
			return d.str(w.sub("client_id"), &c.clientID, &c.hasClientID)
		case keyName:
			return d.str(w.sub("name"), &c.name, nil)
		case keyDescription:
			return d.str(w.sub("description"), &c.description, nil)
		case keyWebsite:
			return d.str(w.sub("website"), &c.website, nil)
		case keyContactEmail:
			return d.str(w.sub("contact_email"), &c.contactEmail, nil)
		case keyNotes:
			return d.str(w.sub("notes"), &c.notes, nil)
		case keyDisabled:
			return d.boolean(w.sub("disabled"), &c.disabled)
		case keyApplicationType:
			c.appTypeOffset = at
			return d.str(w.sub("application_type"), &c.applicationType, nil)
		case keyRedirectURIs:
			return d.uris(i, "redirect_uris", &doc.redirect, &c.redirect)
		case keyPostLogoutRedirectURIs:
			return d.uris(i, "post_logout_redirect_uris", &doc.logout, &c.logout)
		case keyRequestURIs:
			return d.array(w.sub("request_uris"), func(j, at int) error {
				s, ok := "", false
				if err := d.str(where{client: i, field: "request_uris", index: j}, &s, &ok); err != nil || !ok {
					return err
				}
				c.requestURIs = append(c.requestURIs, s)
				c.requestURIOffsets = append(c.requestURIOffsets, at)
				return nil
			})
		}
		panic("unreachable")
	})
	if err == nil && isObject && seen&(1<<keyClientID) == 0 {
		d.problems.add(c.offset, w.String()+`: missing field "client_id"`)
	}
	return err
}

// uris reads the array of URIs of field of clients[i] into list, the
// client's span of it being sp.
func (d *decoder) uris(i int, field string, list *uriList, sp *span) error {
	return d.array(where{client: i, field: field, index: -1}, func(j, at int) error {
		s, ok := "", false
		if err := d.str(where{client: i, field: field, index: j}, &s, &ok); err != nil || !ok {
			return err
		}
		list.uris = append(list.uris, s)
		list.offsets = append(list.offsets, at)
		list.index = append(list.index, j)
		sp.end = len(list.uris)
		return nil
	})
}

// ws skips white space.
func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
			continue
		}
		return
	}
}

// syntax records a syntax error at the current position and ends decoding.
func (d *decoder) syntax(context string) error {
	if d.pos >= len(d.data) {
		d.problems.add(len(d.data), "invalid JSON: unexpected end of file")
	} else {
		d.problems.add(d.pos, "invalid JSON: invalid character "+quoteChar(d.data[d.pos:])+" "+context)
	}
	return errStop
}

// kind describes the value starting at the current position, or returns ""
// if no value can start there.
func (d *decoder) kind() string {
	if d.pos >= len(d.data) {
		return ""
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return ""
}

// mismatch reports a value of the wrong type, once it has been skipped, so
// that a value that is not even JSON is reported as a syntax error only.
func (d *decoder) mismatch(w where, want string) error {
	at, got := d.pos, d.kind()
	if got == "" {
		return d.syntax("looking for beginning of value")
	}
	if err := d.skipValue(0); err != nil {
		return err
	}
	d.problems.add(at, w.String()+": want "+want+", got "+got)
	return nil
}

// object reads an object whose fields may be those of the mask allowed,
// calling field with each known field's key index and offset; unknown and
// duplicate fields are problems and their values are skipped. It returns the
// mask of fields seen and whether the value was an object at all.
func (d *decoder) object(w where, allowed uint16, field func(k int, at int) error) (seen uint16, isObject bool, err error) {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return 0, false, d.mismatch(w, "an object")
	}
	d.pos++
	var unknown map[string]bool
	for first := true; ; first = false {
		d.ws()
		if first && d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return seen, true, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return seen, true, d.syntax("looking for beginning of object key string")
		}
		at := d.pos
		k, key, err := d.key(allowed)
		if err != nil {
			return seen, true, err
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return seen, true, d.syntax("after object key")
		}
		d.pos++
		d.ws()
		switch {
		case k != keyUnknown && seen&(1<<k) == 0:
			seen |= 1 << k
			err = field(k, at)
		case k != keyUnknown || unknown[key]:
			d.problems.add(at, w.String()+": duplicate field "+strconv.Quote(key))
			err = d.skipValue(0)
		default:
			if unknown == nil {
				unknown = map[string]bool{}
			}
			unknown[key] = true
			d.problems.add(at, "unknown field "+strconv.Quote(w.sub(key).String())+" (field names are case-sensitive"+suggest(key, allowed)+")")
			err = d.skipValue(0)
		}
		if err != nil {
			return seen, true, err
		}
		if more, err := d.next('}', "after object key:value pair"); err != nil || !more {
			return seen, true, err
		}
	}
}

// next reads what follows an object member or an array element: a ","
// before more of them, or the closing delimiter. Anything else is a
// syntax error, described as coming after what was read.
func (d *decoder) next(closing byte, after string) (more bool, err error) {
	d.ws()
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ',':
			d.pos++
			return true, nil
		case closing:
			d.pos++
			return false, nil
		}
	}
	return false, d.syntax(after)
}

// suggest names the allowed field that key spells in another letter case.
func suggest(key string, allowed uint16) string {
	for k, name := range keyNames {
		if allowed&(1<<k) != 0 && strings.EqualFold(key, name) {
			return `: did you mean "` + name + `"?`
		}
	}
	return ""
}

// key reads an object key, returning the index of the field it names among
// those allowed, or keyUnknown and the key.
func (d *decoder) key(allowed uint16) (int, string, error) {
	start, end, escaped, err := d.scanString()
	if err != nil {
		return keyUnknown, "", err
	}
	raw := d.data[start:end]
	if escaped {
		raw = d.unquote(raw)
	}
	for k, name := range keyNames {
		if allowed&(1<<k) != 0 && string(raw) == name {
			return k, name, nil
		}
	}
	return keyUnknown, string(raw), nil
}

// array reads an array, calling elem with each element's index and offset.
func (d *decoder) array(w where, elem func(i, at int) error) error {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '[' {
		return d.mismatch(w, "an array")
	}
	d.pos++
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.ws()
		if err := elem(i, d.pos); err != nil {
			return err
		}
		if more, err := d.next(']', "after array element"); err != nil || !more {
			return err
		}
	}
}

// str reads a string into dst and sets *ok, if not nil, when one was read.
func (d *decoder) str(w where, dst *string, ok *bool) error {
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return d.mismatch(w, "a string")
	}
	start, end, escaped, err := d.scanString()
	if err != nil {
		return err
	}
	if escaped {
		*dst = string(d.unquote(d.data[start:end]))
	} else {
		*dst = string(d.data[start:end])
	}
	if ok != nil {
		*ok = true
	}
	return nil
}

func (d *decoder) boolean(w where, dst *bool) error {
	d.ws()
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == 't':
		*dst = true
	case d.pos < len(d.data) && d.data[d.pos] == 'f':
		*dst = false
	default:
		return d.mismatch(w, "true or false")
	}
	return d.skipValue(0)
}

// scanString checks the string starting at the current position and moves
// past it, returning the bounds of its contents and whether it has escapes.
func (d *decoder) scanString() (start, end int, escaped bool, err error) {
	d.pos++ // the opening quote
	start = d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			end = d.pos
			d.pos++
			return start, end, escaped, nil
		case c == '\\':
			escaped = true
			d.pos++
			if d.pos >= len(d.data) {
				return 0, 0, false, d.syntax("")
			}
			switch d.data[d.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos++
			case 'u':
				d.pos++
				for range 4 {
					if d.pos >= len(d.data) || !isHex(d.data[d.pos]) {
						return 0, 0, false, d.syntax(`in \u hexadecimal character escape`)
					}
					d.pos++
				}
			default:
				return 0, 0, false, d.syntax("in string escape code")
			}
		case c < 0x20:
			return 0, 0, false, d.syntax("in string literal")
		default:
			d.pos++
		}
	}
	return 0, 0, false, d.syntax("")
}

// unquote decodes the escapes of a checked string's contents, as
// encoding/json does: an unpaired surrogate becomes U+FFFD. The result is
// valid until the next call.
func (d *decoder) unquote(s []byte) []byte {
	b := d.buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(s[i+2:]))); r2 != utf8.RuneError {
						r = r2
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // " \ /
			b = append(b, s[i+1])
		}
		i += 2
	}
	d.buf = b
	return b
}

func hex4(s []byte) int {
	n := 0
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		n = n<<4 | int(c)
	}
	return n
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// skipValue checks and moves past the value at the current position.
func (d *decoder) skipValue(depth int) error {
	d.ws()
	if d.pos >= len(d.data) {
		return d.syntax("")
	}
	switch c := d.data[d.pos]; c {
	case '"':
		_, _, _, err := d.scanString()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case '{', '[':
		if depth >= maxDepth {
			return d.syntax("past the maximum nesting depth")
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		d.pos++
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == closing {
			d.pos++
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if d.pos >= len(d.data) || d.data[d.pos] != '"' {
					return d.syntax("looking for beginning of object key string")
				}
				if _, _, _, err := d.scanString(); err != nil {
					return err
				}
				d.ws()
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					return d.syntax("after object key")
				}
				d.pos++
			}
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.pos < len(d.data) && d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.pos < len(d.data) && d.data[d.pos] == closing {
				d.pos++
				return nil
			}
			if c == '{' {
				return d.syntax("after object key:value pair")
			}
			return d.syntax("after array element")
		}
	}
	if c := d.data[d.pos]; c == '-' || '0' <= c && c <= '9' {
		return d.number()
	}
	return d.syntax("looking for beginning of value")
}

func (d *decoder) literal(want string) error {
	for i := 0; i < len(want); i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != want[i] {
			return d.syntax("in literal " + want + " (expecting " + quoteChar([]byte{want[i]}) + ")")
		}
		d.pos++
	}
	return nil
}

// number checks a number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (d *decoder) number() error {
	digits := func(context string) error {
		if d.pos >= len(d.data) || d.data[d.pos] < '0' || d.data[d.pos] > '9' {
			return d.syntax(context)
		}
		for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
			d.pos++
		}
		return nil
	}
	if d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if err := digits("in numeric literal"); err != nil {
		return err
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if err := digits("after decimal point in numeric literal"); err != nil {
			return err
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if err := digits("in exponent of numeric literal"); err != nil {
			return err
		}
	}
	return nil
}

// quoteChar quotes the character at the start of b for a message.
func quoteChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	switch r {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	return strconv.QuoteRune(r)
}

// invalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8, or -1.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
