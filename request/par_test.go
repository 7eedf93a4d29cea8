package request

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/redirect-uri-policy/caddy-redirect-uri-policy/policy"
)

func basic(user, password string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}}
}

func TestPushClient(t *testing.T) {
	assertion := func(claims string) string { return jws(claims) }
	for _, tc := range []struct {
		name   string
		h      http.Header
		c      PushCredentials
		want   string
		reason policy.Reason
	}{
		{"form client_id", nil, PushCredentials{FormClientID: "a"}, "a", ""},
		{"Basic", basic("a", "s"), PushCredentials{}, "a", ""},
		{"Basic, URL-encoded user", basic("app%3Aone+two", "s"), PushCredentials{}, "app:one two", ""},
		{"Basic, lower-case scheme", http.Header{"Authorization": {"basic " + base64.StdEncoding.EncodeToString([]byte("a:s"))}}, PushCredentials{}, "a", ""},
		{"Basic and the same client_id", basic("a", "s"), PushCredentials{FormClientID: "a"}, "a", ""},
		{"Basic and another client_id", basic("b", "s"), PushCredentials{FormClientID: "a"}, "", policy.ClientIDMismatch},
		{"Basic, encoded user differs", basic("a%20", "s"), PushCredentials{FormClientID: "a"}, "", policy.ClientIDMismatch},
		{"Basic, not base64", http.Header{"Authorization": {"Basic !!!"}}, PushCredentials{}, "", policy.MalformedRequest},
		{"Basic, no colon", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("a"))}}, PushCredentials{}, "", policy.MalformedRequest},
		{"Basic, bad escape", basic("a%zz", "s"), PushCredentials{}, "", policy.MalformedRequest},
		{"Basic, empty user", basic("", "s"), PushCredentials{FormClientID: "a"}, "", policy.MalformedRequest},
		{"two Authorization headers", http.Header{"Authorization": {"Basic YTpz", "Basic Yjpz"}}, PushCredentials{}, "", policy.MalformedRequest},
		{"another scheme", http.Header{"Authorization": {"DPoP abc"}}, PushCredentials{FormClientID: "a"}, "a", ""},
		{"assertion", nil, PushCredentials{ClientAssertion: assertion(`{"iss":"a","sub":"a","aud":"x"}`)}, "a", ""},
		{"assertion and client_id", nil, PushCredentials{FormClientID: "a", ClientAssertion: assertion(`{"iss":"a","sub":"a"}`)}, "a", ""},
		{"assertion for another client", nil, PushCredentials{FormClientID: "a", ClientAssertion: assertion(`{"iss":"b","sub":"b"}`)}, "", policy.ClientIDMismatch},
		{"assertion, sub and iss differ", nil, PushCredentials{ClientAssertion: assertion(`{"iss":"a","sub":"b"}`)}, "", policy.ClientIDMismatch},
		{"assertion and Basic differ", basic("b", "s"), PushCredentials{ClientAssertion: assertion(`{"iss":"a","sub":"a"}`)}, "", policy.ClientIDMismatch},
		{"assertion without sub", nil, PushCredentials{ClientAssertion: assertion(`{"iss":"a"}`)}, "", policy.MalformedRequest},
		{"assertion, sub twice", nil, PushCredentials{ClientAssertion: assertion(`{"iss":"a","sub":"a","sub":"b"}`)}, "", policy.MalformedRequest},
		{"assertion, numeric sub", nil, PushCredentials{ClientAssertion: assertion(`{"iss":1,"sub":1}`)}, "", policy.MalformedRequest},
		{"assertion unreadable", nil, PushCredentials{ClientAssertion: "not-a-jwt"}, "", policy.MalformedRequest},
		{"nothing", nil, PushCredentials{}, "", policy.MissingClientID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = http.Header{}
			}
			got, reason, detail := PushClient(h, tc.c)
			if got != tc.want || reason != tc.reason || (reason == "") != (detail == "") {
				t.Errorf("got %q %q %q, want %q %q", got, reason, detail, tc.want, tc.reason)
			}
		})
	}
}

func TestIsPushedRequestURI(t *testing.T) {
	for uri, want := range map[string]bool{
		"urn:ietf:params:oauth:request_uri:abc": true,
		"URN:IETF:params:oauth:request_uri:abc": true,
		"urn:ietf:params:oauth:request_uri:":    false,
		"urn:ietf:params:oauth:request_ur":      false,
		"https://app.example/r.jwt":             false,
		"":                                      false,
	} {
		if got := IsPushedRequestURI(uri); got != want {
			t.Errorf("IsPushedRequestURI(%q) = %v, want %v", uri, got, want)
		}
	}
}
