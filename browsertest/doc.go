// Package browsertest proves in a real browser that the redirect URI policy
// keeps a victim's browser, and the authorization code it carries, away from
// an attacker's host.
//
// Its test drives Debian's headless Chromium (/usr/bin/chromium, packages
// chromium and chromium-driver) through chromedp against the real Caddy
// binary with the module, guarding a demo authorization server that checks
// nothing and redirects every authorize request at once, code attached. The
// test fails, and never skips, when Chromium is missing.
//
//	go test -count=1 -v ./browsertest/
//
// Environment:
//   - BROWSERTEST_ARTIFACTS: directory for the screenshots of every page the
//     browser ended on (default: a temporary directory of the test).
//   - REDIRECT_URI_POLICY_CADDY: a prebuilt Caddy with the module (default:
//     ./cmd/caddy is built once per test process).
//
// With -update-docs the test also writes the screenshot of a rejection page
// to docs/rejection-page.png for the README.
package browsertest
