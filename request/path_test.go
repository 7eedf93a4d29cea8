package request

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
)

func defaultPathSet(t *testing.T) PathSet {
	t.Helper()
	s, err := NewPathSet([]string{"/oauth/authorize"})
	if err != nil {
		t.Fatalf("NewPathSet: %v", err)
	}
	return s
}

// TestPathMatchSpellings lists the spellings of /oauth/authorize that some
// upstream could route to the authorize endpoint: every one must be checked.
func TestPathMatchSpellings(t *testing.T) {
	s := defaultPathSet(t)
	for _, p := range []string{
		// plain and letter case
		"/oauth/authorize",
		"/oauth/author%EF%BD%89ze", // fullwidth ｉ, as best-fit mappings read it
		"/%EF%BC%AFAUTH/authorize", // fullwidth Ｏ
		// white space and control characters around a segment
		"/oauth/authorize%09",
		"/oauth/%20authorize",
		"/oauth/authorize%0d%0a",
		"/x/..%20/oauth/authorize",
		"/OAUTH/AUTHORIZE",
		"/OAuth/Authorize",
		"/oauth/authorizE",
		// trailing and repeated slashes
		"/oauth/authorize/",
		"/oauth/authorize//",
		"//oauth/authorize",
		"/oauth//authorize",
		"///oauth///authorize///",
		// dot segments
		"/./oauth/authorize",
		"/oauth/./authorize",
		"/oauth/authorize/.",
		"/oauth/authorize/./",
		"/x/../oauth/authorize",
		"/oauth/x/../authorize",
		"/oauth/x/y/../../authorize",
		"/oauth/authorize/x/..",
		"/../oauth/authorize",
		"/../../../oauth/authorize",
		"/static/../oauth/authorize",
		"/oauth/%2e/authorize",
		"/oauth/x/%2e%2e/authorize",
		"/oauth/x/%2E%2E/authorize",
		"/oauth/x/.%2e/authorize",
		// percent-encoded letters and slashes
		"/oauth/%61uthorize",
		"/%6f%61%75%74%68/%61%75%74%68%6f%72%69%7a%65",
		"/%6F%41%55%54%48/%41%55%54%48%4F%52%49%5A%45",
		"/oauth%2fauthorize",
		"/oauth%2Fauthorize",
		"%2foauth%2fauthorize",
		"/oauth%2f%2e%2e%2foauth%2fauthorize",
		// double and triple encoding
		"/oauth/%2561uthorize",
		"/oauth%252fauthorize",
		"/oauth/x/%252e%252e/authorize",
		"/oauth/%252561uthorize",
		"/oauth%25252fauthorize",
		// ;params on any segment
		"/oauth/authorize;jsessionid=abc",
		"/oauth;x=1/authorize",
		"/oauth;/authorize;",
		";x/oauth/authorize",
		"/oauth/authorize;/",
		"/oauth/x/..;/authorize",
		"/oauth/authorize%3bx",
		"/oauth/authorize%253bx",
		// backslashes
		"/oauth\\authorize",
		"\\oauth\\authorize\\",
		"/oauth%5cauthorize",
		"/oauth%5Cauthorize",
		"/oauth/x\\..\\authorize",
		// NUL cut
		"/oauth/authorize%00",
		"/oauth/authorize%00.png",
		"/oauth/authorize%00/x",
		"/oauth/authorize%2500.css",
		// trailing dots and spaces of a segment
		"/oauth/authorize.",
		"/oauth/authorize..",
		"/oauth/authorize%20",
		"/oauth/authorize%20.%20",
		"/oauth./authorize",
		"/oauth%20/authorize",
		// a trailing segment that is empty once its dots and spaces are
		// dropped
		"/oauth/authorize/...",
		"/oauth/authorize/%20",
		"/oauth/authorize/.%20",
		"/oauth/%20/authorize",
		// non-ASCII letters that case-fold onto ASCII ones (dotless ı,
		// dotted İ), as Java's and .NET's case-insensitive comparisons do
		"/oauth/author%C4%B1ze",
		"/oauth/author%C4%B0ze",
		"/oauth/author\xc4\xb1ze",
		"/OAUTH/AUTHOR%C4%B0ZE",
		"/oauth/author%25C4%25B1ze",
		// .json (and other) suffix pattern
		"/oauth/authorize.json",
		"/oauth/authorize.JSON",
		"/oauth/authorize.xml",
		"/oauth/authorize.json/",
		"/oauth/authorize%2ejson",
		// fullwidth punctuation, which best-fit mappings read as ASCII
		"/oauth/authorize%EF%BC%8F",
		"/oauth/authorize%EF%BC%8E",
		"/oauth%EF%BC%8Fauthorize",
		"/oauth%EF%BC%BCauthorize",
		"/x/%EF%BC%8E%EF%BC%8E/oauth/authorize",
		// behind a PHP front controller
		"/index.php/oauth/authorize",
		"/app_dev.php/OAuth/Authorize/",
		"/public/index.php/oauth/authorize.json",
		"/a.php/b.php/oauth/authorize",
		// PHP runs a script with the path after it as PATH_INFO
		"/oauth/authorize.php/x",
		"/OAuth/Authorize.PHP/x/y",
		// ASP.NET cookieless session segments
		"/(S(abc123))/oauth/authorize",
		"/(A(x))/(F(y))/OAuth/Authorize",
		"/oauth/(S(x))/authorize",
		// a host, to WHATWG URL parsers (Node's new URL(req.url, base))
		"//attacker.example/oauth/authorize",
		"///attacker.example/oauth/authorize",
		"/\\attacker.example/oauth/authorize",
		"//attacker.example\\oauth\\authorize",
		// no leading slash (as a rewrite may leave the path)
		"oauth/authorize",
		"OAuth/Authorize/",
		"\\oauth/authorize",
		// all at once
		"//OAuth;a=b//.//x/%2E%2E/%2561UTHORIZE.json;c;/",
	} {
		ok, err := s.endpoint(p)
		if err != nil || !ok {
			c, _, cerr := canonicalPath(p, nil)
			t.Errorf("match(%q) = %v, %v; want true, nil (canonical %q, %v)", p, ok, err, c, cerr)
		}
	}
}

// TestPathNoMatch lists paths that are other endpoints and must pass.
func TestPathNoMatch(t *testing.T) {
	s := defaultPathSet(t)
	for _, p := range []string{
		"/",
		"",
		"/oauth/authorizex",
		"/oauth/authorize2",
		"/oauth/authorize_",
		"/oauth/authorize-",
		"/oauth/authoriz",
		"/oauth/token",
		"/oauth",
		"/oauth/",
		"/authorize",
		"/oauth2/authorize",
		"/api/oauth/authorize",
		"/static/app.js",
		"/oauth/authorize/x",
		"/oauth/authorize/x/",
		"/oauth/authorize.json/x",
		"/oauth/authorize..json/x",
		"/oauth/author%C3%AFze",     // ï does not fold onto i
		"/oauth/author\xc4ze",       // a lone non-ASCII byte is kept
		"/oauth/authori%E2%80%8Bze", // zero-width space
		"/index.php",
		"/index.php/oauth/token",
		"/index.phpx/oauth/authorize",
		"/oauth/authorize.phpx/y",
		"//oauth/token",
		"//attacker.example",
		"//attacker.example/",
		"/(S(x))/oauth/token",
		"/oauth/(x)/authorize",
		"/oauth/(s(x)/authorize",
		// dot segments in paths that do not mention the endpoint
		"/static/../app.js",
		"/oauth/x/../token",
		"/a/%2e%2e/b;x/../c",
		"/a%00/../b",
		// escapes that do not decode twice, in paths that cannot name the
		// endpoint: Caddy's file server reads them once
		"/static/50%25off",
		"/static/100%25",
		"/x/%2525zz",
		"/static/%25%25%25",
		"%",
		"/%%%",
	} {
		ok, err := s.endpoint(p)
		if err != nil || ok {
			c, _, cerr := canonicalPath(p, nil)
			t.Errorf("match(%q) = %v, %v; want false, nil (canonical %q, %v)", p, ok, err, c, cerr)
		}
	}
}

// TestPathCannotNormalize: a path that cannot be normalized is an error,
// which the handler rejects rather than passes.
func TestPathCannotNormalize(t *testing.T) {
	s := defaultPathSet(t)
	for _, p := range []string{
		"/oauth/%zzauthorize",
		"/oauth/authorize%zz",
		"/oauth/authorize%4",
		"/oauth/authorize%",
		"/oauth/authorize%g0",
		"/oauth/authorize%0g",
		"/oauth/authorize%25zz",    // bad escape after one decoding
		"/oauth/authorize%2525zz",  // after two decodings
		"/oauth/%25252561uthorize", // encoded four times
		"/oauth%2525252fauthorize",
		"/oauth/authorize%25252525",
		// an encoded "?" or "#" after the authorize path
		"/oauth/authorize%3Fredirect_uri=https://evil.example/",
		"/oauth/authorize/%3f",
		"/OAuth/Authorize%2523x",
		"/oauth/authorize.json%3Fx",
		"/oauth/authorize%3F/..",
		// and after an untidy spelling of the endpoint
		"/oauth/authorize.%3Fx",
		"/oauth/authorize%20%3Fx",
		"/oauth/authorize/.%3Fx",
		"/oauth/authorize/x/..%3Fx",
		"//attacker.example/oauth/authorize%3Fx",
		// a ".." after a segment that upstreams read differently: some
		// drop it first, Go's path.Clean and Tomcat remove it with the
		// ".."
		"/oauth/authorize%2F;x%2F..",
		"/oauth/authorize/;x/..",
		"/oauth/authorize%2F%20%2F..",
		"/oauth/authorize/%09/..",
		"/oauth/authorize/.%20/..",
		"/oauth/authorize%2F...%2F..",
		"/oauth/authorize/.../..",
		"/oauth/authorize/%252e%252e%2F..",
		"/oauth/authorize\\;x\\..",
		"/OAuth/Author%C4%B1ze/;/..",
		"/oauth/authorize/%EF%BC%8E%EF%BC%8E/..",
		// and after a NUL that some cut the path at
		"/x%00%2F..%2Foauth/authorize",
		"/x%2500/../oauth/authorize",
	} {
		ok, err := s.endpoint(p)
		if ok || !errors.Is(err, errBadPath) {
			t.Errorf("match(%q) = %v, %v; want false, errBadPath", p, ok, err)
		}
	}
}

func TestPathCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"a", "/a"}, // no leading slash: read from the root
		{"oauth/Authorize", "/oauth/authorize"},
		{"*", "/*"},
		{"abc/def/", "/abc/def"},
		{"..;x/oauth/authorize", "/oauth/authorize"},
		{"//", "/"},
		{"/..", "/"},
		{"/a/b/../../..", "/"},
		{"/A/B", "/a/b"},
		{"/a/./b/", "/a/b"},
		{"/a;x/b;y", "/a/b"},
		{"/a\\b", "/a/b"},
		{"/a%00/b", "/a"},
		{"/a%2fb", "/a/b"},
		{"/a%252fb", "/a/b"},
		{"/a%25252fb", "/a/b"},
		{"/a.%20./b", "/a/b"},
		{"/a/b.json", "/a/b.json"},
		{"/caf%C3%A9", "/caf\xc3\xa9"},                // non-ASCII bytes are kept
		{"/CAF%C3%89", "/caf\xc3\x89"},                // and not case-folded byte-wise
		{"/a/%2e%2e/b", "/b"},                         // encoded dot segment
		{"/a/..%3bx/b", "/b"},                         // dot segment with ;params
		{"/a/...", "/a"},                              // a segment of dots only is empty
		{"/a/. /b", "/a/b"},                           // "." with a trailing space
		{"/a/ /b", "/a/b"},                            // a segment of spaces only is empty
		{"/%C4%B0%C4%B1", "/ii"},                      // İ and ı fold onto i
		{"/\xe2\x84\xaa\xc5\xbf", "/ks"},              // Kelvin sign and long s
		{"/\xff\xc4", "/\xff\xc4"},                    // invalid UTF-8 is kept
		{"/a%EF%BC%8Fb%EF%BC%BCc%EF%BC%8E", "/a/b/c"}, // fullwidth / \ .
		{"/a%EF%BC%9Bx/b", "/a/b"},                    // fullwidth ;
		{strings.Repeat("/a", 300), strings.Repeat("/a", 300)}, // longer than the stack buffer
	} {
		got, _, err := canonicalPath(tc.in, nil)
		if err != nil || string(got) != tc.want {
			t.Errorf("canonicalPath(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
		}
	}
}

// TestPathCanonicalKeepsDst: canonicalPath appends to dst and never
// touches what dst already holds.
func TestPathCanonicalKeepsDst(t *testing.T) {
	dst := make([]byte, 0, 64)
	dst = append(dst, "prefix"...)
	got, _, err := canonicalPath("/OAuth/%61uthorize", dst)
	if err != nil || string(got) != "prefix/oauth/authorize" {
		t.Fatalf("canonicalPath with dst = %q, %v; want %q", got, err, "prefix/oauth/authorize")
	}
}

func TestPathSetCustom(t *testing.T) {
	s, err := NewPathSet([]string{"/oauth/authorize", "/OAuth2/Auth/", "/connect/authorize;v=1", "/o/%61uth"})
	if err != nil {
		t.Fatalf("NewPathSet: %v", err)
	}
	wantPaths := []string{"/oauth/authorize", "/oauth2/auth", "/connect/authorize", "/o/auth"}
	if strings.Join(s.paths, " ") != strings.Join(wantPaths, " ") {
		t.Errorf("paths = %q; want %q", s.paths, wantPaths)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/oauth/authorize", true},
		{"/oauth2/auth", true},
		{"/OAUTH2/AUTH/", true},
		{"/oauth2/auth.json", true},
		{"/oauth2//x/../auth", true},
		{"/connect/authorize", true},
		{"/connect/authorize;v=2", true},
		{"/CONNECT/%61uthorize", true},
		{"/o/auth", true},
		{"/o/%2561uth", true},
		{"/oauth2/authorize", false},
		{"/oauth2/auth2", false},
		{"/oauth2", false},
		{"/connect/token", false},
		{"/o/auth/x", false},
		{"/o", false},
	} {
		got, err := s.endpoint(tc.path)
		if err != nil || got != tc.want {
			t.Errorf("match(%q) = %v, %v; want %v, nil", tc.path, got, err, tc.want)
		}
	}

	// A set of one custom path does not check the default one.
	s, err = NewPathSet([]string{"/authorize"})
	if err != nil {
		t.Fatalf("NewPathSet: %v", err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/authorize", true},
		{"/Authorize/", true},
		{"/oauth/authorize", false},
		{"/oauth/../authorize", true},
	} {
		got, err := s.endpoint(tc.path)
		if err != nil || got != tc.want {
			t.Errorf("match(%q) = %v, %v; want %v, nil", tc.path, got, err, tc.want)
		}
	}
}

func TestPathSetErrors(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"oauth/authorize"}, "path oauth/authorize does not start with /"},
		{[]string{"/oauth/authorize", "authorize"}, "path authorize does not start with /"},
		{[]string{""}, "path  does not start with /"},
		{[]string{"*"}, "path * does not start with /"},
		{[]string{"/oauth/%zz"}, "path /oauth/%zz: path cannot be normalized"},
		{[]string{"/a/%25252525"}, "path /a/%25252525: path cannot be normalized"},
	} {
		_, err := NewPathSet(tc.paths)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewPathSet(%q) error = %v; want %q", tc.paths, err, tc.want)
		}
	}
	// No paths at all is an empty set that matches nothing.
	s, err := NewPathSet(nil)
	if err != nil || len(s.paths) != 0 {
		t.Fatalf("NewPathSet(nil) = %v, %v; want empty, nil", s, err)
	}
	if ok, err := s.endpoint("/oauth/authorize"); ok || err != nil {
		t.Errorf("empty set match = %v, %v; want false, nil", ok, err)
	}
}

// TestPathMatchAllocs: matching a short path allocates nothing.
func TestPathMatchAllocs(t *testing.T) {
	s := defaultPathSet(t)
	for _, p := range []string{"/oauth/authorize", "/OAUTH/%2561uthorize;x/", "/static/app.js"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = s.endpoint(p) }); n != 0 {
			t.Errorf("match(%q) allocates %v times; want 0", p, n)
		}
	}
}

// TestPathCannotNameSound: the shortcut for other paths never skips a path
// that canonicalizes to an authorize path or is rejected as ambiguous. Random paths over an alphabet
// rich in the target's letters, separators, dot segments and parameters.
func TestPathCannotNameSound(t *testing.T) {
	s, err := NewPathSet([]string{"/oauth/authorize", "/Custom/Auth"})
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "/\\;.. =-_aAuUtThHoOrRiIzZeEcCsSmMxX\t\x00"
	rng := rand.New(rand.NewPCG(1, 2))
	named, skipped := 0, 0
	for range 300000 {
		b := make([]byte, 1+rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		// Splice in a target now and then, so that matches are common.
		p := string(b)
		if rng.IntN(3) == 0 {
			cut := rng.IntN(len(p) + 1)
			p = p[:cut] + []string{"/oauth/authorize", "/OAUTH//Authorize/.", "/custom/auth;x", "/x/../Oauth\\authorize.json"}[rng.IntN(4)] + p[cut:]
		}
		at, err := s.locateReadings(p)
		checked := at != Elsewhere || err != nil
		if s.cannotName(p) {
			skipped++
			if checked {
				t.Fatalf("cannotName(%q) but locateReadings = %v, %v", p, at, err)
			}
		}
		if checked {
			named++
		}
	}
	if named == 0 || skipped == 0 {
		t.Fatalf("named %d, skipped %d: the generator does not exercise both sides", named, skipped)
	}
}

// TestPathCanonicalLossy: canonicalPath tells when its form lost a segment
// to a ".." or a tail to a NUL, the cases where upstreams may disagree.
func TestPathCanonicalLossy(t *testing.T) {
	for _, tc := range []struct {
		in    string
		lossy bool
	}{
		{"/oauth/authorize", false},
		{"/oauth/./authorize;x/", false},
		{"/..", false}, // nothing to remove
		{"/a/..", true},
		{"/a/%2e%2e", true},
		{"/a%00b", true},
		{"/a/b%2500", true},
	} {
		_, lossy, err := canonicalPath(tc.in, nil)
		if err != nil || lossy != tc.lossy {
			t.Errorf("canonicalPath(%q) lossy = %v, %v; want %v, nil", tc.in, lossy, err, tc.lossy)
		}
	}
}

// TestPathMatchHeaders: a path override header that names an authorize
// path makes the request checked, whatever its own path.
func TestPathMatchHeaders(t *testing.T) {
	s := defaultPathSet(t)
	for _, tc := range []struct {
		header http.Header
		want   bool
		err    bool
	}{
		{http.Header{}, false, false},
		{http.Header{"X-Original-Url": {"/oauth/authorize"}}, true, false},
		{http.Header{"X-Original-Url": {"/OAuth/Authorize?client_id=a"}}, true, false},
		{http.Header{"X-Rewrite-Url": {"/oauth/%61uthorize#x"}}, true, false},
		{http.Header{"X-Original-Url": {"https://as.example/oauth/authorize"}}, true, false},
		{http.Header{"X-Original-Url": {"/static/app.js", "/oauth/authorize"}}, true, false},
		{http.Header{"X-Original-Url": {"/oauth/token"}}, false, false},
		{http.Header{"X-Original-Url": {"https://as.example"}}, false, false},
		{http.Header{"X-Forwarded-Path": {"/oauth/authorize"}}, false, false},
		{http.Header{"X-Original-Url": {"/oauth/authorize%zz"}}, false, true},
	} {
		got, err := s.endpointHeaders(tc.header)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("matchHeaders(%v) = %v, %v; want %v, error %v", tc.header, got, err, tc.want, tc.err)
		}
	}
}

// TestPathUpstreamReadingsChecked: whatever route an upstream takes, the
// policy sees it. For random paths rich in separators, dot segments,
// parameters, blanks and escapes, if Go's reading (decode once, then
// path.Clean, as Caddy's path matcher and net/http do) or a proxy's
// (decode, clean, decode again, clean) names /oauth/authorize in any letter
// case, match must check the request or reject it.
func TestPathUpstreamReadingsChecked(t *testing.T) {
	s := defaultPathSet(t)
	pieces := []string{
		"/", "/", "//", "\\", "%2F", "%2f", "%5C", "%252F", ".", "..", "%2e", "%2E%2E", "%252e",
		";", ";x", "%3B", " ", "%20", "%09", "%00", "%2500", "%3F", "x", "X", "...",
		"oauth", "OAuth", "authorize", "Authorize", "%61uthorize", "author%C4%B1ze", "%EF%BC%8F", "%EF%BC%8E",
	}
	// A WHATWG-style reading: a leading "//" starts a host.
	hostReading := func(p string) (string, bool) {
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			return "", false
		}
		return strings.ToLower(path.Clean("/" + u.Path)), true
	}
	goReading := func(p string, decodes int) (string, bool) {
		for range decodes {
			d, err := url.PathUnescape(p)
			if err != nil {
				return "", false
			}
			p = path.Clean("/" + d)
		}
		return strings.ToLower(p), true
	}
	rng := rand.New(rand.NewPCG(3, 4))
	routed := 0
	for range 400000 {
		var b strings.Builder
		for range 1 + rng.IntN(9) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		p := b.String()
		if rng.IntN(2) == 0 {
			cut := rng.IntN(len(p) + 1)
			p = p[:cut] + "/oauth/authorize" + p[cut:]
		}
		for decodes := 0; decodes <= 2; decodes++ {
			r, ok := hostReading(p)
			if decodes > 0 {
				r, ok = goReading(p, decodes)
			}
			if !ok || r != "/oauth/authorize" {
				continue
			}
			routed++
			if got, err := s.endpoint(p); !got && err == nil {
				c, lossy, _ := canonicalPath(p, nil)
				t.Fatalf("%q is %s after %d decoding(s) and path.Clean (0: read as //host/path), but match passes it (canonical %q, lossy %v)", p, r, decodes, c, lossy)
			}
		}
	}
	if routed < 1000 {
		t.Fatalf("only %d random paths route to the endpoint: the generator is too weak", routed)
	}
}

// TestPathMatchQueryRoute: the front page and PHP scripts of frameworks that
// route by the query string.
func TestPathMatchQueryRoute(t *testing.T) {
	s := defaultPathSet(t)
	for _, tc := range []struct {
		path, query string
		want, err   bool
	}{
		{"/", "q=oauth/authorize&client_id=a", true, false},
		{"/", "client_id=a&Q=%2Foauth%2Fauthorize", true, false},
		{"/index.php", "r=oauth/authorize", true, false},
		{"/INDEX.PHP", "r=OAuth%2FAuthorize", true, false},
		{"", "q=oauth/authorize", true, false},
		{"/", "/oauth/authorize?client_id=a&redirect_uri=x", false, true},
		{"/index.php", "/OAuth/Authorize", false, true},
		{"/", "q=oauth/token&client_id=a", false, false},
		{"/", "search=oauth/authorize", false, false},
		{"/", "/oauth/token?x=1", false, false},
		{"/", "", false, false},
		{"/search", "q=oauth/authorize", false, false},
		{"/docs/", "q=oauth/authorize", false, false},
		{"/index.phpx", "q=oauth/authorize", false, false},
		{"/", "q=%zz&r=oauth/authorize", true, false},
		{"/", "q%00%=oauth/authorize", true, false},
		// a page to return to, not a route
		{"/login.php", "r=%2Foauth%2Fauthorize%3Fclient_id%3Da", false, false},
		{"/", "q=/oauth/authorize%23x", false, false},
	} {
		got, err := s.endpointQueryRoute(tc.path, tc.query)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("matchQueryRoute(%q, %q) = %v, %v; want %v, error %v", tc.path, tc.query, got, err, tc.want, tc.err)
		}
	}
}

// endpoint reports whether Locate finds the escaped path an authorize path
// itself.
func (s PathSet) endpoint(escaped string) (bool, error) {
	at, err := s.Locate(escaped)
	return at == Endpoint, err
}

// endpointHeaders reports whether LocateHeaders finds an authorize path.
func (s PathSet) endpointHeaders(h http.Header) (bool, error) {
	at, err := s.LocateHeaders(h)
	return at == Endpoint, err
}

// endpointQueryRoute reports whether LocateQueryRoute finds an authorize
// path.
func (s PathSet) endpointQueryRoute(escaped, rawQuery string) (bool, error) {
	at, err := s.LocateQueryRoute(escaped, rawQuery)
	return at == Endpoint, err
}

// TestPathLocateBelow: a path under an authorize path, in every spelling
// the path itself is recognized in, is Below; the path itself, and a path
// that only starts like it, are not.
func TestPathLocateBelow(t *testing.T) {
	s := defaultPathSet(t)
	for _, tc := range []struct {
		path string
		want Place
	}{
		{"/oauth/authorize", Endpoint},
		{"/oauth/authorize/", Endpoint},
		{"/oauth/authorize/x", Below},
		{"/oauth/authorize/x/y/", Below},
		{"/OAuth//Authorize/x", Below},
		{"/oauth/authorize%2Fx", Below},
		{"/oauth/authorize;a/x;b", Below},
		{"/oauth/./authorize/x", Below},
		{"/index.php/oauth/authorize/x", Below},
		{"//evil.example/oauth/authorize/x", Below},
		{"/oauth/authorize/x/..", Endpoint},
		{"/oauth/authorizex/y", Elsewhere},
		{"/oauth/authorize.json", Endpoint},
		{"/oauth", Elsewhere},
		{"/static/authorize/x", Elsewhere},
	} {
		if got, err := s.Locate(tc.path); got != tc.want || err != nil {
			t.Errorf("Locate(%q) = %v, %v; want %v", tc.path, got, err, tc.want)
		}
	}
	// An encoded "?" below the endpoint cannot be read unambiguously.
	if _, err := s.Locate("/oauth/authorize/x%3Fredirect_uri=y"); err == nil {
		t.Error("Locate of an encoded ? below the endpoint: no error")
	}
	if got, err := s.LocateHeaders(http.Header{"X-Original-Url": {"/oauth/authorize/x?y"}}); got != Below || err != nil {
		t.Errorf("LocateHeaders below = %v, %v", got, err)
	}
	if got, err := s.LocateQueryRoute("/", "q=oauth/authorize/x"); got != Below || err != nil {
		t.Errorf("LocateQueryRoute below = %v, %v", got, err)
	}
	root, err := NewPathSet([]string{"/"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := root.Locate("/anything"); got != Below {
		t.Errorf("below the root: %v", got)
	}
}
