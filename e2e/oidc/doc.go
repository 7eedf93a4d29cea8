// Package oidc is the end-to-end suite against a real authorization server:
// node-oidc-provider (the OpenID-certified server, npm oidc-provider, with
// its development login and consent pages) behind the project's Caddy
// binary, driven by openid-client as a web application would drive it.
//
// The Node side lives in node/ (package.json and package-lock.json pin
// every package; scripts/test runs npm ci there when node_modules is
// missing). provider.mjs prints every request the server receives, so a
// test proves what reached the server and what Caddy stopped; driver.mjs
// runs one sign-in and prints what happened at each stage.
//
// The tests fail, never skip, when Node or the packages are missing.
package oidc
