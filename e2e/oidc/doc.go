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
// One stack of processes (sharedStack) serves every test of the package:
// the clients are in serverClients (the server's view) and
// registryClients (the module's registry), the module's configuration in
// policyBlock. A new case adds its clients there, drives a sign-in with
// stack.signIn (new driver options go into driver.mjs) or sends its own
// request with do, marked with a probe, and asks the server's log with
// provider.sawProbe whether it arrived. Besides the web application, the
// stack registers a native app (a public client with a loopback and a
// private-use redirect URI) and a second site, omitSite, in front of the
// same server with omitted_redirect_uri single; driver.mjs also runs an
// RP-initiated logout (op "logout").
//
// The tests fail, never skip, when Node or the packages are missing.
package oidc
