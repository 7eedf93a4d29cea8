package policy

import (
	"errors"
	"strings"
	"testing"
)

// both marks a row whose reason is the same in sandbox and production.
const both Environment = ""

type syntaxCase struct {
	name   string
	env    Environment // both, Sandbox or Production
	maxLen int         // Options.MaxURILength; 0 for the default
	uri    string
	want   Reason // "" when the URI passes
	detail string // a substring of the detail, to tell malformed sub-rules apart
}

// pad returns prefix followed by enough 'a's to make n bytes.
func pad(prefix string, n int) string { return prefix + strings.Repeat("a", n-len(prefix)) }

func label(n int) string { return strings.Repeat("a", n) }

// host253 is a DNS name of exactly 253 bytes: three labels of 63, one of 61.
var host253 = label(63) + "." + label(63) + "." + label(63) + "." + label(61)

var syntaxCases = []syntaxCase{
	// Length, default and custom.
	{name: "length 2048 passes", env: both, uri: pad("https://app.example/", 2048), want: ""},
	{name: "length 2049", env: both, uri: pad("https://app.example/", 2049), want: MalformedRedirectURI, detail: "maximum length"},
	{name: "custom length 40 passes", env: both, maxLen: 40, uri: pad("https://app.example/", 40), want: ""},
	{name: "custom length 41", env: both, maxLen: 40, uri: pad("https://app.example/", 41), want: MalformedRedirectURI, detail: "maximum length"},
	{name: "custom length 4096 passes 3000", env: both, maxLen: 4096, uri: pad("https://app.example/", 3000), want: ""},

	// Characters.
	{name: "NUL", env: both, uri: "https://app.example/c\x00b", want: MalformedRedirectURI, detail: "control character"},
	{name: "tab", env: both, uri: "https://app.example/c\tb", want: MalformedRedirectURI, detail: "control character"},
	{name: "CR LF", env: both, uri: "https://app.example/cb\r\nX: y", want: MalformedRedirectURI, detail: "control character"},
	{name: "0x1f", env: both, uri: "https://app.example/c\x1fb", want: MalformedRedirectURI, detail: "control character"},
	{name: "DEL", env: both, uri: "https://app.example/c\x7fb", want: MalformedRedirectURI, detail: "control character"},
	{name: "space", env: both, uri: "https://app.example/c b", want: MalformedRedirectURI, detail: "space"},
	{name: "leading space", env: both, uri: " https://app.example/cb", want: MalformedRedirectURI, detail: "space"},
	{name: "non-ASCII in path", env: both, uri: "https://app.example/caf\u00e9", want: MalformedRedirectURI, detail: "non-ASCII"},
	{name: "non-ASCII host", env: both, uri: "https://b\u00fccher.example/cb", want: MalformedRedirectURI, detail: "non-ASCII"},
	{name: "byte 0x80", env: both, uri: "https://app.example/\x80", want: MalformedRedirectURI, detail: "non-ASCII"},
	{name: "byte 0xff", env: both, uri: "https://app.example/\xff", want: MalformedRedirectURI, detail: "non-ASCII"},
	{name: "backslash", env: both, uri: "https://app.example\\@evil.example/cb", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "less than", env: both, uri: "https://app.example/<cb", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "greater than", env: both, uri: "https://app.example/cb>", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "double quote", env: both, uri: "https://app.example/\"cb", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "left brace", env: both, uri: "https://app.example/{cb", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "right brace", env: both, uri: "https://app.example/cb}", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "pipe", env: both, uri: "https://app.example/c|b", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "caret", env: both, uri: "https://app.example/c^b", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "backtick", env: both, uri: "https://app.example/c`b", want: MalformedRedirectURI, detail: "percent-encoded"},
	{name: "brackets in path pass", env: both, uri: "https://app.example/a[0]", want: ""},
	{name: "sub-delims pass", env: both, uri: "https://app.example/a!$&'()*+,;=:@~-._/?x=y/z?", want: ""},

	// Percent escapes.
	{name: "lone percent", env: both, uri: "https://app.example/cb%", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "one hex digit at end", env: both, uri: "https://app.example/cb%4", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "one hex digit", env: both, uri: "https://app.example/cb%4/", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "non-hex first", env: both, uri: "https://app.example/cb%G1", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "non-hex second", env: both, uri: "https://app.example/cb%1G", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "percent percent", env: both, uri: "https://app.example/cb%%41", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "bad escape in query", env: both, uri: "https://app.example/cb?x=%zz", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "valid escapes pass", env: both, uri: "https://app.example/a%20b%2Fc%7e?q=%41%2b", want: ""},
	{name: "escape at the very end passes", env: both, uri: "https://app.example/cb%41", want: ""},

	// Encoded control characters.
	{name: "%00", env: both, uri: "https://app.example/cb%00", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%0a in query", env: both, uri: "https://app.example/cb?x=%0a", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%0D%0A", env: both, uri: "https://app.example/cb%0D%0ASet-Cookie:x", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%1F", env: both, uri: "https://app.example/cb%1F", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%1f", env: both, uri: "https://app.example/cb%1f", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%7F", env: both, uri: "https://app.example/cb%7F", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%7f", env: both, uri: "https://app.example/cb?%7f", want: MalformedRedirectURI, detail: "percent-encoded control"},
	{name: "%20 passes", env: both, uri: "https://app.example/cb%20", want: ""},
	{name: "%7E passes", env: both, uri: "https://app.example/cb%7E", want: ""},
	{name: "%80 passes", env: both, uri: "https://app.example/cb%80", want: ""},

	// Scheme.
	{name: "uppercase HTTPS passes", env: both, uri: "HTTPS://app.example/cb", want: ""},
	{name: "mixed case Https passes", env: both, uri: "hTTpS://app.example/cb", want: ""},
	{name: "http in sandbox passes", env: Sandbox, uri: "http://app.example/cb", want: ""},
	{name: "javascript", env: both, uri: "javascript:alert(1)", want: DisallowedScheme},
	{name: "javascript with slashes", env: both, uri: "javascript://app.example/%0aalert(1)", want: DisallowedScheme},
	{name: "data", env: both, uri: "data:text/html,hi", want: DisallowedScheme},
	{name: "custom scheme", env: both, uri: "myapp://callback", want: DisallowedScheme},
	{name: "reverse-DNS scheme", env: both, uri: "com.example.app:/oauth2redirect", want: DisallowedScheme},
	{name: "ftp", env: both, uri: "ftp://app.example/cb", want: DisallowedScheme},
	{name: "file", env: both, uri: "file:///etc/passwd", want: DisallowedScheme},
	{name: "httpx", env: both, uri: "httpx://app.example/cb", want: DisallowedScheme},
	{name: "https+x", env: both, uri: "https+x://app.example/cb", want: DisallowedScheme},
	{name: "urn oob", env: both, uri: "urn:ietf:wg:oauth:2.0:oob", want: DisallowedScheme},
	{name: "https: without slashes", env: both, uri: "https:app.example/cb", want: MalformedRedirectURI, detail: "not followed by //"},
	{name: "https:/ one slash", env: both, uri: "https:/app.example/cb", want: MalformedRedirectURI, detail: "not followed by //"},
	{name: "https:/// three slashes", env: both, uri: "https:///app.example/cb", want: MalformedRedirectURI, detail: "empty host"},
	{name: "scheme-relative", env: both, uri: "//app.example/cb", want: MalformedRedirectURI, detail: "not an absolute URI"},
	{name: "relative path", env: both, uri: "/cb", want: MalformedRedirectURI, detail: "not an absolute URI"},
	{name: "empty", env: both, uri: "", want: MalformedRedirectURI, detail: "not an absolute URI"},
	{name: "leading colon", env: both, uri: ":app.example", want: MalformedRedirectURI, detail: "not an absolute URI"},
	{name: "scheme starting with a digit", env: both, uri: "1https://app.example/cb", want: MalformedRedirectURI, detail: "not an absolute URI"},
	{name: "scheme with underscore", env: both, uri: "ht_tps://app.example/cb", want: MalformedRedirectURI, detail: "not an absolute URI"},

	// User information.
	{name: "user", env: both, uri: "https://user@app.example/cb", want: UserinfoInRedirectURI},
	{name: "user and password", env: both, uri: "https://user:pw@app.example/cb", want: UserinfoInRedirectURI},
	{name: "empty userinfo", env: both, uri: "https://@app.example/cb", want: UserinfoInRedirectURI},
	{name: "registered host as userinfo", env: both, uri: "https://app.example@evil.example/cb", want: UserinfoInRedirectURI},
	{name: "host and port as userinfo", env: both, uri: "https://app.example:443@evil.example/cb", want: UserinfoInRedirectURI},
	{name: "IPv6 as userinfo", env: both, uri: "https://[::1]@evil.example/cb", want: UserinfoInRedirectURI},
	{name: "at sign in path passes", env: both, uri: "https://app.example/cb@evil.example", want: ""},
	{name: "at sign in query passes", env: both, uri: "https://app.example?next=a@evil.example", want: ""},

	// Fragment.
	{name: "fragment", env: both, uri: "https://app.example/cb#frag", want: FragmentInRedirectURI},
	{name: "empty fragment", env: both, uri: "https://app.example/cb#", want: FragmentInRedirectURI},
	{name: "fragment after query", env: both, uri: "https://app.example/cb?x=1#y", want: FragmentInRedirectURI},
	{name: "fragment right after host", env: both, uri: "https://app.example#@evil.example", want: FragmentInRedirectURI},
	{name: "encoded hash passes", env: both, uri: "https://app.example/cb%23frag", want: ""},

	// DNS hosts.
	{name: "empty host", env: both, uri: "https:///cb", want: MalformedRedirectURI, detail: "empty host"},
	{name: "empty host with port", env: both, uri: "https://:443/cb", want: MalformedRedirectURI, detail: "empty host"},
	{name: "empty label", env: both, uri: "https://app..example/cb", want: MalformedRedirectURI, detail: "empty label"},
	{name: "leading dot", env: both, uri: "https://.app.example/cb", want: MalformedRedirectURI, detail: "empty label"},
	{name: "trailing dot", env: both, uri: "https://app.example./cb", want: MalformedRedirectURI, detail: "empty label"},
	{name: "label of 63 passes", env: both, uri: "https://" + label(63) + ".example/cb", want: ""},
	{name: "label of 64", env: both, uri: "https://" + label(64) + ".example/cb", want: MalformedRedirectURI, detail: "longer than 63"},
	{name: "last label of 64", env: both, uri: "https://app." + label(64) + "/cb", want: MalformedRedirectURI, detail: "longer than 63"},
	{name: "host of 253 passes", env: both, uri: "https://" + host253 + "/cb", want: ""},
	{name: "host of 254", env: both, uri: "https://" + host253 + "a/cb", want: MalformedRedirectURI, detail: "longer than 253"},
	{name: "leading hyphen", env: both, uri: "https://-app.example/cb", want: MalformedRedirectURI, detail: "hyphen"},
	{name: "trailing hyphen", env: both, uri: "https://app-.example/cb", want: MalformedRedirectURI, detail: "hyphen"},
	{name: "trailing hyphen in last label", env: both, uri: "https://app.example-/cb", want: MalformedRedirectURI, detail: "hyphen"},
	{name: "inner hyphens pass", env: both, uri: "https://a--b.ex-ample/cb", want: ""},
	{name: "wildcard label", env: both, uri: "https://*.app.example/cb", want: MalformedRedirectURI, detail: "wildcard"},
	{name: "wildcard inside label", env: both, uri: "https://app*.example/cb", want: MalformedRedirectURI, detail: "wildcard"},
	{name: "percent in host", env: both, uri: "https://ap%70.example/cb", want: MalformedRedirectURI, detail: "host contains a character"},
	{name: "encoded dot in host", env: both, uri: "https://app%2eexample/cb", want: MalformedRedirectURI, detail: "host contains a character"},
	{name: "underscore in host", env: both, uri: "https://app_1.example/cb", want: MalformedRedirectURI, detail: "host contains a character"},
	{name: "semicolon in host", env: both, uri: "https://app.example;evil.example/cb", want: MalformedRedirectURI, detail: "host contains a character"},
	{name: "uppercase host passes", env: both, uri: "https://APP.Example/cb", want: ""},
	{name: "digits in labels pass", env: both, uri: "https://1app.example2.x3y/cb", want: ""},

	// Numeric hosts must be canonical dotted quads.
	{name: "127.1", env: both, uri: "http://127.1/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "0x7f.0.0.1", env: both, uri: "http://0x7f.0.0.1/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "0x7f000001", env: both, uri: "http://0x7f000001/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "0X7F000001", env: both, uri: "http://0X7F000001/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "2130706433", env: both, uri: "http://2130706433/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "0177.0.0.1", env: both, uri: "http://0177.0.0.1/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "1.2.3.04", env: both, uri: "https://1.2.3.04/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "256.1.1.1", env: both, uri: "https://256.1.1.1/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "five parts", env: both, uri: "https://1.2.3.4.5/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "name with numeric last label", env: both, uri: "https://app.example.123/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "name with hex last label", env: both, uri: "https://app.0x1f/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "canonical IPv4 passes", env: both, uri: "https://192.0.2.10/cb", want: ""},
	{name: "numeric first label passes", env: both, uri: "https://123.example/cb", want: ""},

	// IP literals.
	{name: "IPv6 passes", env: both, uri: "https://[2001:db8::1]/cb", want: ""},
	{name: "IPv6 with port passes", env: both, uri: "https://[2001:db8::1]:8443/cb", want: ""},
	{name: "IPv6 zone", env: both, uri: "http://[fe80::1%25eth0]/cb", want: MalformedRedirectURI, detail: "invalid IPv6 literal"},
	{name: "IPv6 zone unescaped", env: both, uri: "http://[fe80::1%eth0]/cb", want: MalformedRedirectURI, detail: "invalid percent-encoding"},
	{name: "unterminated bracket", env: both, uri: "http://[::1/cb", want: MalformedRedirectURI, detail: "unterminated"},
	{name: "unterminated bracket no path", env: both, uri: "https://[2001:db8::1", want: MalformedRedirectURI, detail: "unterminated"},
	{name: "IPv4 in brackets", env: both, uri: "https://[192.0.2.1]/cb", want: MalformedRedirectURI, detail: "invalid IPv6 literal"},
	{name: "bad IPv6", env: both, uri: "https://[2001:db8::g]/cb", want: MalformedRedirectURI, detail: "invalid IPv6 literal"},
	{name: "empty brackets", env: both, uri: "https://[]/cb", want: MalformedRedirectURI, detail: "invalid IPv6 literal"},
	{name: "junk after bracket", env: both, uri: "https://[2001:db8::1]x/cb", want: MalformedRedirectURI, detail: "after IPv6 literal"},
	{name: "IPv6 without brackets", env: both, uri: "https://2001:db8::1/cb", want: MalformedRedirectURI, detail: "canonical dotted-quad"},
	{name: "bracket in the middle of the host", env: both, uri: "https://app[::1]/cb", want: MalformedRedirectURI, detail: "host contains a character"},

	// Ports.
	{name: "port 1 passes", env: both, uri: "https://app.example:1/cb", want: ""},
	{name: "port 65535 passes", env: both, uri: "https://app.example:65535/cb", want: ""},
	{name: "port 0", env: both, uri: "https://app.example:0/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "port 65536", env: both, uri: "https://app.example:65536/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "port 99999", env: both, uri: "https://app.example:99999/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "port of six digits", env: both, uri: "https://app.example:100000/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "port with leading zero", env: both, uri: "https://app.example:0443/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "port 00", env: both, uri: "https://app.example:00/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "empty port", env: both, uri: "https://app.example:/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "empty port no path", env: both, uri: "https://app.example:", want: MalformedRedirectURI, detail: "port"},
	{name: "plus port", env: both, uri: "https://app.example:+443/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "negative port", env: both, uri: "https://app.example:-1/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "non-digit port", env: both, uri: "https://app.example:44a/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "hex port", env: both, uri: "https://app.example:0x1bb/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "two ports", env: both, uri: "https://app.example:443:443/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "IPv6 empty port", env: both, uri: "https://[2001:db8::1]:/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "IPv6 port 0", env: both, uri: "https://[2001:db8::1]:0/cb", want: MalformedRedirectURI, detail: "port"},
	{name: "loopback port 65536", env: Sandbox, uri: "http://127.0.0.1:65536/cb", want: MalformedRedirectURI, detail: "port"},

	// Unspecified addresses.
	{name: "0.0.0.0 sandbox", env: Sandbox, uri: "http://0.0.0.0/cb", want: MalformedRedirectURI, detail: "unspecified"},
	{name: "0.0.0.0 production", env: Production, uri: "https://0.0.0.0/cb", want: LoopbackNotAllowed},
	{name: "[::] sandbox", env: Sandbox, uri: "http://[::]:8080/cb", want: MalformedRedirectURI, detail: "unspecified"},
	{name: "[::] production", env: Production, uri: "https://[::]/cb", want: LoopbackNotAllowed},
	{name: "long [::] sandbox", env: Sandbox, uri: "http://[0:0:0:0:0:0:0:0]/cb", want: MalformedRedirectURI, detail: "unspecified"},
	{name: "long [::] production", env: Production, uri: "https://[0:0:0:0:0:0:0:0]/cb", want: LoopbackNotAllowed},
	{name: "mapped 0.0.0.0 sandbox", env: Sandbox, uri: "http://[::ffff:0.0.0.0]/cb", want: MalformedRedirectURI, detail: "unspecified"},
	{name: "mapped 0.0.0.0 production", env: Production, uri: "https://[::ffff:0.0.0.0]/cb", want: LoopbackNotAllowed},

	// Dot segments.
	{name: "dot", env: both, uri: "https://app.example/./cb", want: PathTraversal},
	{name: "dot dot", env: both, uri: "https://app.example/a/../cb", want: PathTraversal},
	{name: "%2e%2e", env: both, uri: "https://app.example/a/%2e%2e/cb", want: PathTraversal},
	{name: "%2E%2E", env: both, uri: "https://app.example/a/%2E%2E/cb", want: PathTraversal},
	{name: ".%2e", env: both, uri: "https://app.example/a/.%2e/cb", want: PathTraversal},
	{name: "%2E.", env: both, uri: "https://app.example/a/%2E./cb", want: PathTraversal},
	{name: "%2e alone", env: both, uri: "https://app.example/a/%2e/cb", want: PathTraversal},
	{name: "..;x", env: both, uri: "https://app.example/a/..;x/cb", want: PathTraversal},
	{name: ".;x", env: both, uri: "https://app.example/a/.;jsessionid=1/cb", want: PathTraversal},
	{name: "..; empty parameter", env: both, uri: "https://app.example/a/..;/cb", want: PathTraversal},
	{name: "%2e%2e;x", env: both, uri: "https://app.example/a/%2e%2e;x/cb", want: PathTraversal},
	{name: "trailing /..", env: both, uri: "https://app.example/a/..", want: PathTraversal},
	{name: "trailing /.", env: both, uri: "https://app.example/a/.", want: PathTraversal},
	{name: "trailing /.. before query", env: both, uri: "https://app.example/a/..?x=1", want: PathTraversal},
	{name: "leading /..", env: both, uri: "https://app.example/../cb", want: PathTraversal},
	{name: "double slash then ..", env: both, uri: "https://app.example//../cb", want: PathTraversal},
	{name: "dot dot in sandbox loopback", env: Sandbox, uri: "http://127.0.0.1:8888/op/x/../callback", want: PathTraversal},
	{name: "three dots pass", env: both, uri: "https://app.example/.../cb", want: ""},
	{name: "dot-prefixed segment passes", env: both, uri: "https://app.example/.well-known/cb", want: ""},
	{name: "..a passes", env: both, uri: "https://app.example/..a/cb", want: ""},
	{name: "a.. passes", env: both, uri: "https://app.example/a../cb", want: ""},
	{name: "%2e%2e%2e passes", env: both, uri: "https://app.example/%2e%2e%2e/cb", want: ""},
	{name: "double-encoded dot passes", env: both, uri: "https://app.example/%252e%252e/cb", want: ""},
	{name: "dots in query pass", env: both, uri: "https://app.example/cb?next=/../x&y=.", want: ""},
	{name: "x;.. passes", env: both, uri: "https://app.example/x;../cb", want: ""},

	// Rules of the environment.
	{name: "http in production", env: Production, uri: "http://app.example/cb", want: InsecureScheme},
	{name: "HTTP in production", env: Production, uri: "HTTP://app.example/cb", want: InsecureScheme},
	{name: "localhost production", env: Production, uri: "https://localhost/cb", want: LoopbackNotAllowed},
	{name: "LOCALHOST production", env: Production, uri: "https://LOCALHOST/cb", want: LoopbackNotAllowed},
	{name: "LocalHost with port production", env: Production, uri: "https://LocalHost:8443/cb", want: LoopbackNotAllowed},
	{name: "x.localhost production", env: Production, uri: "https://x.localhost/cb", want: LoopbackNotAllowed},
	{name: "A.B.LOCALHOST production", env: Production, uri: "https://A.B.LOCALHOST/cb", want: LoopbackNotAllowed},
	{name: "127.0.0.1 production", env: Production, uri: "https://127.0.0.1/cb", want: LoopbackNotAllowed},
	{name: "127.255.255.254 production", env: Production, uri: "https://127.255.255.254/cb", want: LoopbackNotAllowed},
	{name: "[::1] production", env: Production, uri: "https://[::1]/cb", want: LoopbackNotAllowed},
	{name: "long [::1] production", env: Production, uri: "https://[0:0:0:0:0:0:0:1]:8443/cb", want: LoopbackNotAllowed},
	{name: "[::ffff:127.0.0.1] production", env: Production, uri: "https://[::ffff:127.0.0.1]/cb", want: LoopbackNotAllowed},
	{name: "[::ffff:7f00:1] production", env: Production, uri: "https://[::ffff:7f00:1]/cb", want: LoopbackNotAllowed},
	{name: "[::FFFF:7F01:203] production", env: Production, uri: "https://[::FFFF:7F01:203]/cb", want: LoopbackNotAllowed},
	{name: "localhost sandbox passes", env: Sandbox, uri: "http://localhost:3000/cb", want: ""},
	{name: "x.localhost sandbox passes", env: Sandbox, uri: "http://x.localhost/cb", want: ""},
	{name: "127.0.0.1 sandbox passes", env: Sandbox, uri: "http://127.0.0.1:51004/cb", want: ""},
	{name: "[::ffff:127.0.0.1] sandbox passes", env: Sandbox, uri: "http://[::ffff:127.0.0.1]/cb", want: ""},
	{name: "[::1] sandbox passes", env: Sandbox, uri: "http://[::1]:8080/cb", want: ""},
	{name: "localhost.example is not loopback", env: Production, uri: "https://localhost.example/cb", want: ""},
	{name: "testlocalhost is not loopback", env: Production, uri: "https://testlocalhost/cb", want: ""},
	{name: "xlocalhost.example is not loopback", env: Production, uri: "https://app.xlocalhost/cb", want: ""},
	{name: "128.0.0.1 is not loopback", env: Production, uri: "https://128.0.0.1/cb", want: ""},
	{name: "https production passes", env: Production, uri: "https://app.example/cb", want: ""},
}

func policyFor(t testing.TB, env Environment, match MatchMode, maxLen int) *Policy {
	t.Helper()
	p, err := New(Options{Environment: env, Match: match, MaxURILength: maxLen})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func envs(e Environment) []Environment {
	if e == both {
		return []Environment{Sandbox, Production}
	}
	return []Environment{e}
}

// TestSyntax runs every syntax row through Check, Normalize, Compile and
// Decide: a registered and a requested URI obey the same rules and fail
// with the same reason.
func TestSyntax(t *testing.T) {
	for _, c := range syntaxCases {
		for _, env := range envs(c.env) {
			t.Run(string(env)+"/"+c.name, func(t *testing.T) {
				p := policyFor(t, env, MatchExact, c.maxLen)
				r, detail := p.Check(c.uri)
				if r != c.want {
					t.Fatalf("Check(%q) = %q (%s), want %q", c.uri, r, detail, c.want)
				}
				if c.detail != "" && !strings.Contains(detail, c.detail) {
					t.Errorf("Check(%q) detail = %q, want it to mention %q", c.uri, detail, c.detail)
				}
				if (r == "") != (detail == "") {
					t.Errorf("Check(%q) = %q with detail %q", c.uri, r, detail)
				}

				n, err := p.Normalize(c.uri)
				if c.want != "" {
					var ue *URIError
					if !errors.As(err, &ue) || ue.Reason != c.want || ue.Index != -1 || ue.URI != c.uri || n != "" {
						t.Errorf("Normalize(%q) = %q, %v; want a *URIError with reason %q and index -1", c.uri, n, err, c.want)
					}
				} else if err != nil || n == "" {
					t.Errorf("Normalize(%q) = %q, %v", c.uri, n, err)
				}

				set, err := p.Compile([]string{"https://registered.example/cb", c.uri})
				if c.want != "" {
					var es Errors
					if !errors.As(err, &es) || len(es) != 1 || es[0].Index != 1 || es[0].Reason != c.want || set != nil {
						t.Errorf("Compile([ok, %q]) = %v, %v; want one error at index 1 with reason %q", c.uri, set, err, c.want)
					}
				} else if err != nil {
					t.Errorf("Compile([ok, %q]): %v", c.uri, err)
				} else if d := set.Decide(c.uri); !d.Allowed() || d.Entry == nil || d.Entry.Raw != c.uri {
					t.Errorf("registered %q does not allow itself: %s (%s)", c.uri, d.Reason, d.Detail)
				}

				reg := mustCompile(t, p, []string{"https://registered.example/cb"})
				want := c.want
				if want == "" {
					want = RedirectURINotRegistered
				}
				if d := reg.Decide(c.uri); d.Reason != want || d.Entry != nil {
					t.Errorf("Decide(%q) = %s (%s), want %s", c.uri, d.Reason, d.Detail, want)
				}
			})
		}
	}
}

func mustCompile(t testing.TB, p *Policy, raws []string) *Set {
	t.Helper()
	s, err := p.Compile(raws)
	if err != nil {
		t.Fatalf("Compile(%q): %v", raws, err)
	}
	return s
}

// TestPrecedence checks which rule wins when several fail: the syntax rules
// of §4 in the order listed, then the rules of §1.
func TestPrecedence(t *testing.T) {
	long := "https://u@app.example/" + strings.Repeat("a", 2048) + " #"
	cases := []struct {
		name   string
		env    Environment
		uri    string
		want   Reason
		detail string
	}{
		{"length before characters", both, long, MalformedRedirectURI, "maximum length"},
		{"characters before scheme", both, "ftp://app.example/ cb", MalformedRedirectURI, "space"},
		{"bad escape before scheme", both, "javascript:%zz", MalformedRedirectURI, "percent-encoding"},
		{"encoded control after scheme", both, "javascript:%00", DisallowedScheme, ""},
		{"scheme before userinfo", both, "javascript://u@app.example/#x", DisallowedScheme, ""},
		{"scheme before host", both, "myapp://a..b/", DisallowedScheme, ""},
		{"missing slashes before userinfo", both, "https:u@app.example/", MalformedRedirectURI, "not followed by //"},
		{"userinfo before fragment", both, "https://u@app.example/cb#x", UserinfoInRedirectURI, ""},
		{"userinfo before host", both, "https://u@app..example/cb", UserinfoInRedirectURI, ""},
		{"userinfo before traversal", both, "https://u@app.example/../cb", UserinfoInRedirectURI, ""},
		{"userinfo before environment", Production, "http://u@localhost/cb", UserinfoInRedirectURI, ""},
		{"fragment before host", both, "https://app..example/cb#x", FragmentInRedirectURI, ""},
		{"fragment before port", both, "https://app.example:0/cb#x", FragmentInRedirectURI, ""},
		{"fragment before traversal", both, "https://app.example/../cb#x", FragmentInRedirectURI, ""},
		{"fragment before environment", Production, "http://localhost/cb#x", FragmentInRedirectURI, ""},
		{"host before port", both, "https://app..example:0/cb", MalformedRedirectURI, "empty label"},
		{"host before traversal", both, "https://app..example/../cb", MalformedRedirectURI, "empty label"},
		{"numeric host before port", both, "https://127.1:0/cb", MalformedRedirectURI, "canonical dotted-quad"},
		{"port before encoded control", both, "https://app.example:0/%00", MalformedRedirectURI, "port"},
		{"port before traversal", both, "https://app.example:0/../cb", MalformedRedirectURI, "port"},
		{"encoded control before traversal", both, "https://app.example/../%00", MalformedRedirectURI, "percent-encoded control"},
		{"traversal before insecure scheme", Production, "http://app.example/../cb", PathTraversal, ""},
		{"traversal before loopback", Production, "https://localhost/../cb", PathTraversal, ""},
		{"port before loopback", Production, "https://localhost:0/cb", MalformedRedirectURI, "port"},
		{"insecure scheme before loopback", Production, "http://localhost/cb", InsecureScheme, ""},
		{"insecure scheme before IPv6 loopback", Production, "http://[::1]/cb", InsecureScheme, ""},
		{"unspecified host before port (sandbox)", Sandbox, "http://0.0.0.0:0/cb", MalformedRedirectURI, "unspecified"},
		{"unspecified host before port (production)", Production, "https://0.0.0.0:0/cb", LoopbackNotAllowed, ""},
		{"unspecified host before traversal (sandbox)", Sandbox, "http://[::]/../cb", MalformedRedirectURI, "unspecified"},
		{"unspecified host before traversal (production)", Production, "https://[::]/../cb", LoopbackNotAllowed, ""},
		{"unspecified host before insecure scheme", Production, "http://0.0.0.0/cb", LoopbackNotAllowed, ""},
		{"fragment before unspecified host", Production, "http://0.0.0.0/cb#x", FragmentInRedirectURI, ""},
	}
	for _, c := range cases {
		for _, env := range envs(c.env) {
			t.Run(string(env)+"/"+c.name, func(t *testing.T) {
				p := policyFor(t, env, MatchExact, 0)
				r, detail := p.Check(c.uri)
				if r != c.want || !strings.Contains(detail, c.detail) {
					t.Errorf("Check(%q) = %q (%s), want %q (%s)", c.uri, r, detail, c.want, c.detail)
				}
				if d := mustCompile(t, p, []string{"https://app.example/cb"}).Decide(c.uri); d.Reason != c.want {
					t.Errorf("Decide(%q) = %q, want %q", c.uri, d.Reason, c.want)
				}
			})
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		env  Environment
		in   string
		want string
	}{
		{both, "https://app.example/cb", "https://app.example/cb"},
		{both, "HTTPS://APP.Example/Path/CB?Q=A&b=C", "https://app.example/Path/CB?Q=A&b=C"},
		{Sandbox, "HtTp://App.Example/cb", "http://app.example/cb"},
		{both, "https://app.example:443/cb", "https://app.example/cb"},
		{Sandbox, "http://app.example:80/cb", "http://app.example/cb"},
		{both, "https://app.example:80/cb", "https://app.example:80/cb"},
		{Sandbox, "http://app.example:443/cb", "http://app.example:443/cb"},
		{both, "https://app.example:8443/cb", "https://app.example:8443/cb"},
		{both, "https://app.example", "https://app.example/"},
		{both, "https://app.example:443", "https://app.example/"},
		{both, "https://app.example?x=1", "https://app.example/?x=1"},
		{both, "https://app.example:8443?x=1", "https://app.example:8443/?x=1"},
		{both, "https://app.example/", "https://app.example/"},
		{both, "https://app.example/?", "https://app.example/?"},
		{Sandbox, "http://[0:0:0:0:0:0:0:1]/cb", "http://[::1]/cb"},
		{Sandbox, "http://[0:0:0:0:0:0:0:1]:8080/cb", "http://[::1]:8080/cb"},
		{Sandbox, "http://[::FFFF:7F00:1]/cb", "http://[::ffff:127.0.0.1]/cb"},
		{Sandbox, "http://[::ffff:127.0.0.1]:80", "http://[::ffff:127.0.0.1]/"},
		{both, "https://[2001:DB8:0:0:0:0:0:1]:443/cb", "https://[2001:db8::1]/cb"},
		{both, "https://[2001:db8::0102:0304]/", "https://[2001:db8::102:304]/"},
		{Sandbox, "http://LOCALHOST:3000", "http://localhost:3000/"},
		{Sandbox, "http://localhost:3000/cb", "http://localhost:3000/cb"},
		{Sandbox, "http://127.0.0.1:80/cb", "http://127.0.0.1/cb"},
		{Sandbox, "http://Dev.LocalHost:4000/CB", "http://dev.localhost:4000/CB"},
		// Path and query are never decoded, re-encoded or reordered.
		{both, "https://app.example/a%2Fb%41%2e?x=%41%2B&y=%2b", "https://app.example/a%2Fb%41%2e?x=%41%2B&y=%2b"},
		{both, "https://app.example/%7e/~", "https://app.example/%7e/~"},
		{both, "https://app.example//a//b/", "https://app.example//a//b/"},
		{both, "https://app.example/cb?b=2&a=1", "https://app.example/cb?b=2&a=1"},
		{both, "https://app.example/cb;jsessionid=X", "https://app.example/cb;jsessionid=X"},
		{both, "https://app.example/cb?", "https://app.example/cb?"},
		{both, "https://app.example/cb??x", "https://app.example/cb??x"},
		{both, "https://app.example/CB/", "https://app.example/CB/"},
	}
	for _, c := range cases {
		for _, env := range envs(c.env) {
			p := policyFor(t, env, MatchExact, 0)
			got, err := p.Normalize(c.in)
			if err != nil || got != c.want {
				t.Errorf("%s: Normalize(%q) = %q, %v; want %q", env, c.in, got, err, c.want)
				continue
			}
			if again, err := p.Normalize(got); err != nil || again != got {
				t.Errorf("%s: Normalize(%q) = %q, %v; not idempotent", env, got, again, err)
			}
			if r, detail := p.Check(got); r != "" {
				t.Errorf("%s: normalized %q fails Check: %s (%s)", env, got, r, detail)
			}
			s := mustCompile(t, p, []string{c.in})
			if e := s.Entries()[0]; e.Raw != c.in || e.Normalized != c.want {
				t.Errorf("%s: Compile(%q) entry = %q / %q, want normalized %q", env, c.in, e.Raw, e.Normalized, c.want)
			}
			// The normalized form and the original match each other.
			if d := s.Decide(got); d.Reason != ExactMatch && d.Reason != HostMatch {
				t.Errorf("%s: %q registered, Decide(%q) = %s", env, c.in, got, d.Reason)
			}
		}
	}
}

// TestNormalizeLonger documents that normalization may lengthen a URI (an
// added "/", an IPv4-mapped address written in dotted form) and that the
// length limit applies to the URI as the upstream receives it, never to the
// normalized form.
func TestNormalizeLonger(t *testing.T) {
	for in, want := range map[string]string{
		"https://a.example?x=1":   "https://a.example/?x=1",
		"http://[::ffff:7f00:1]/": "http://[::ffff:127.0.0.1]/",
	} {
		// The limit is exactly the length of the input.
		p := policyFor(t, Sandbox, MatchExact, len(in))
		got, err := p.Normalize(in)
		if err != nil || got != want || len(got) <= len(in) {
			t.Errorf("Normalize(%q) = %q, %v; want the longer %q", in, got, err, want)
		}
		if d := mustCompile(t, p, []string{in}).Decide(in); !d.Allowed() {
			t.Errorf("%q registered, Decide(%q) = %s: a URI within the limit must match itself", in, in, d.Reason)
		}
		if r, _ := p.Check(want); r != MalformedRedirectURI {
			t.Errorf("Check(%q) with limit %d = %q, want %q", want, len(in), r, MalformedRedirectURI)
		}
	}
}

func TestNew(t *testing.T) {
	p, err := New(Options{Environment: Production})
	if err != nil {
		t.Fatal(err)
	}
	if p.Environment() != Production || p.Match() != MatchExact || p.MaxURILength() != DefaultMaxURILength {
		t.Errorf("New(production) = %s %s %d", p.Environment(), p.Match(), p.MaxURILength())
	}
	p, err = New(Options{Environment: Sandbox, Match: MatchPrefix, MaxURILength: 100})
	if err != nil || p.Environment() != Sandbox || p.Match() != MatchPrefix || p.MaxURILength() != 100 {
		t.Errorf("New(sandbox, prefix, 100) = %v, %v", p, err)
	}
	for _, o := range []Options{
		{},
		{Environment: "Production"},
		{Environment: "staging"},
		{Environment: Production, Match: "Exact"},
		{Environment: Production, Match: "host"},
		{Environment: Production, MaxURILength: -1},
	} {
		if p, err := New(o); err == nil || p != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", o, p, err)
		}
	}
	for _, s := range []string{"sandbox", "production"} {
		if e, err := ParseEnvironment(s); err != nil || string(e) != s {
			t.Errorf("ParseEnvironment(%q) = %q, %v", s, e, err)
		}
	}
	for _, s := range []string{"exact", "prefix"} {
		if m, err := ParseMatchMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMatchMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseEnvironment("SANDBOX"); err == nil {
		t.Error("ParseEnvironment(SANDBOX) succeeded")
	}
	if _, err := ParseMatchMode(""); err == nil {
		t.Error(`ParseMatchMode("") succeeded`)
	}
}

func TestReasons(t *testing.T) {
	if len(AllowReasons) != 8 || len(RejectReasons) != 28 {
		t.Fatalf("%d allow and %d reject reasons, want 8 and 28", len(AllowReasons), len(RejectReasons))
	}
	seen := map[Reason]bool{}
	for _, rs := range [][]Reason{AllowReasons, RejectReasons} {
		for _, r := range rs {
			if seen[r] {
				t.Errorf("reason %q listed twice", r)
			}
			seen[r] = true
			if d := r.Description(); d == "Unknown reason." || d == "" {
				t.Errorf("reason %q has no description", r)
			}
			for _, c := range string(r) {
				if !('a' <= c && c <= 'z' || c == '_') {
					t.Errorf("reason %q is not snake_case", r)
					break
				}
			}
		}
	}
	for _, r := range AllowReasons {
		if !r.Allows() {
			t.Errorf("%q.Allows() = false", r)
		}
	}
	for _, r := range RejectReasons {
		if r.Allows() {
			t.Errorf("%q.Allows() = true", r)
		}
	}
	if Reason("").Allows() || Reason("bogus").Description() != "Unknown reason." {
		t.Error("unknown reasons must not allow and must have the unknown description")
	}
	// RejectReasons is in the order of precedence of §6.
	want := []Reason{MissingClientID, MissingRedirectURI, DuplicateParameter, MalformedRequest,
		UnsupportedBody, RequestTooLarge, RequestObjectNotSupported, RequestObjectUnreadable,
		RequestObjectEncrypted, LogoutClientMissing, LogoutClientMismatch, IDTokenHintUnreadable,
		UnknownClient, ClientDisabled, ClientIDMismatch, RequestURINotRegistered,
		MalformedRedirectURI, DisallowedScheme, UserinfoInRedirectURI, FragmentInRedirectURI,
		PathTraversal, InsecureScheme, LoopbackNotAllowed, NoRegisteredRedirectURIs, RedirectURINotRegistered,
		RedirectURIMismatch, NoRegisteredPostLogoutRedirectURIs, PostLogoutRedirectURINotRegistered}
	for i := range want {
		if RejectReasons[i] != want[i] {
			t.Errorf("RejectReasons[%d] = %q, want %q", i, RejectReasons[i], want[i])
		}
	}
	if HostOnly.String() != "host-only" || Full.String() != "full" {
		t.Errorf("Kind strings: %q %q", HostOnly, Full)
	}
}
