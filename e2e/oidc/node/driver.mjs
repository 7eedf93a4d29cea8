// The relying party of the end-to-end suite: openid-client drives one
// sign-in through the authorization server (behind Caddy or not) the way
// a server-side web application does, walking the server's own login and
// consent pages over HTTP.
//
//   node driver.mjs '{"op": "flow" | "logout", ...}'
//
// It prints one JSON object: what happened at each stage, so that the Go
// test decides what is right. Options of op "flow":
//   issuer, client_id, client_secret, auth ("basic" | "post" | "none", a
//   native app), redirect_uri (null: left out), mode ("plain" | "par" |
//   "jar" | "par+jar"), jwk (the client's private key, for JAR),
//   response_mode, params (more authorize parameters), probe (sent as
//   x-e2e-probe on every request), exchange (default true: redeem the code
//   and read userinfo), deliver (send the browser to where the server
//   redirects it, such as a native app's loopback listener),
//   authorize_origin (send the authorize request, and walk the server's
//   pages, at this origin instead of the issuer's: another site in front of
//   the same server).
// Options of op "logout" (RP-initiated logout): issuer, client_id,
//   client_secret, params (post_logout_redirect_uri, id_token_hint,
//   client_id, state), probe; the browser's part follows the server's
//   confirmation form until it is sent away.
import * as client from 'openid-client';
import { importJWK } from 'jose';

const opts = JSON.parse(process.argv[2]);
const out = { steps: [] };

function probed(headers) {
  const h = new Headers(headers);
  if (opts.probe) h.set('x-e2e-probe', opts.probe);
  return h;
}

async function discover() {
  const auth = { post: client.ClientSecretPost, none: client.None }[opts.auth] || client.ClientSecretBasic;
  const probedFetch = (url, options) => fetch(url, { ...options, headers: probed(options.headers) });
  const config = await client.discovery(new URL(opts.issuer), opts.client_id, undefined, auth(opts.client_secret), {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: probedFetch,
  });
  config[client.customFetch] = probedFetch;
  return config;
}

async function flow() {
  const config = await discover();

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const params = {
    redirect_uri: opts.redirect_uri,
    scope: 'openid',
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...(opts.response_mode ? { response_mode: opts.response_mode } : {}),
    ...(opts.params || {}),
  };
  if (opts.redirect_uri == null) delete params.redirect_uri;
  let url;
  out.stage = 'build';
  const key = opts.jwk ? { key: await importJWK(opts.jwk, 'ES256'), kid: opts.jwk.kid } : undefined;
  switch (opts.mode || 'plain') {
    case 'plain':
      url = client.buildAuthorizationUrl(config, params);
      break;
    case 'jar':
      url = await client.buildAuthorizationUrlWithJAR(config, params, key);
      break;
    case 'par':
      out.stage = 'push';
      url = await client.buildAuthorizationUrlWithPAR(config, params);
      break;
    case 'par+jar': {
      const jar = await client.buildAuthorizationUrlWithJAR(config, params, key);
      out.stage = 'push';
      url = await client.buildAuthorizationUrlWithPAR(config, jar.searchParams);
      break;
    }
    default:
      throw new Error(`unknown mode ${opts.mode}`);
  }
  if (opts.authorize_origin) {
    const moved = new URL(opts.authorize_origin);
    url.protocol = moved.protocol;
    url.host = moved.host;
  }
  out.authorize_url = url.href;

  out.stage = 'authorize';
  const final = await browse({ url, method: 'GET' }, new URL(opts.authorize_origin || opts.issuer).origin);
  out.final = final;
  if (final && final.location && opts.deliver) {
    const res = await fetch(final.location, { redirect: 'manual' });
    out.delivered = { status: res.status, body: (await res.text()).slice(0, 200) };
  }
  if (!final || opts.exchange === false) return;

  let response;
  if (final.location) {
    const loc = new URL(final.location);
    out.code = loc.searchParams.get('code') || undefined;
    out.error = loc.searchParams.get('error') || undefined;
    response = loc;
  } else if (final.form_post) {
    out.code = final.fields.code;
    out.error = final.fields.error;
    response = new Request(final.form_post, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(final.fields).toString(),
    });
  }
  if (!out.code) return;
  out.stage = 'token';
  const tokens = await client.authorizationCodeGrant(config, response, {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  out.tokens = { access_token: Boolean(tokens.access_token), id_token: Boolean(tokens.id_token) };
  out.id_token = tokens.id_token;
  out.sub = tokens.claims()?.sub;
  out.stage = 'userinfo';
  const info = await client.fetchUserInfo(config, tokens.access_token, out.sub);
  out.userinfo_sub = info.sub;
  out.stage = 'done';
}

// send sends one of the browser's requests, with the cookies of jar, and
// keeps the cookies it is given.
async function send(request, jar) {
  const headers = probed({});
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
  let body;
  if (request.form) {
    headers.set('content-type', 'application/x-www-form-urlencoded');
    body = new URLSearchParams(request.form).toString();
  }
  const res = await fetch(request.url, { method: request.method, headers, body, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair.indexOf('=');
    jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const text = await res.text();
  out.steps.push({ method: request.method, url: String(request.url), status: res.status });
  return { res, text };
}

// The browser's part of a sign-in: follow the server's redirects, sign in
// and consent on its pages, until it sends the browser away from origin.
async function browse(start, origin) {
  const jar = new Map();
  let request = start;
  let final;
  for (let i = 0; i < 20 && !final; i += 1) {
    const { res, text } = await send(request, jar);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, request.url);
      if (next.origin !== origin) {
        final = { status: res.status, location: next.href };
      } else {
        request = { url: next, method: 'GET' };
      }
      continue;
    }
    const prompt = /name="prompt" value="(\w+)"/.exec(text);
    const action = /<form[^>]*action="([^"]+)"/.exec(text);
    if (res.status === 200 && prompt && action) {
      const form = { prompt: prompt[1] };
      if (prompt[1] === 'login') Object.assign(form, { login: 'alice', password: 'any' });
      request = { url: new URL(action[1].replace(/&amp;/g, '&'), request.url), method: 'POST', form };
      continue;
    }
    if (res.status === 200 && action && /method="post"/.test(text)) {
      // form_post: the page posts the response to the redirect URI.
      const fields = {};
      for (const m of text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[m[1]] = m[2];
      final = { status: res.status, form_post: action[1].replace(/&amp;/g, '&'), fields };
      continue;
    }
    final = { status: res.status, content_type: res.headers.get('content-type'), body: text.slice(0, 2000) };
  }
  return final;
}

// logout runs an RP-initiated logout: the browser goes to the server's
// end-session endpoint, confirms on its page, and is sent to the
// post-logout redirect URI (or shown the server's own page).
async function logout() {
  const config = await discover();
  const url = client.buildEndSessionUrl(config, opts.params || {});
  out.logout_url = url.href;
  out.stage = 'logout';
  const origin = new URL(opts.issuer).origin;
  let request = { url, method: 'GET' };
  const jar = new Map();
  for (let i = 0; i < 5 && !out.final; i += 1) {
    const { res, text } = await send(request, jar);
    const location = res.headers.get('location');
    const action = /<form[^>]*action="([^"]+)"/.exec(text);
    if (res.status >= 300 && res.status < 400 && location && new URL(location, request.url).origin === origin) {
      request = { url: new URL(location, request.url), method: 'GET' };
    } else if (res.status === 200 && action) {
      const form = { logout: 'yes' };
      for (const m of text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) form[m[1]] = m[2];
      request = { url: new URL(action[1].replace(/&amp;/g, '&'), request.url), method: 'POST', form };
    } else {
      out.final = { status: res.status, location: location ? new URL(location, request.url).href : undefined, body: text.slice(0, 2000) };
    }
  }
  out.stage = 'done';
}

try {
  switch (opts.op) {
    case 'flow':
      await flow();
      break;
    case 'logout':
      await logout();
      break;
    default:
      throw new Error(`unknown op ${opts.op}`);
  }
} catch (err) {
  out.failure = { name: err.name, message: err.message, status: err.status, body: err.cause };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
