// The relying party of the end-to-end suite: openid-client drives one
// sign-in through the authorization server (behind Caddy or not) the way
// a server-side web application does, walking the server's own login and
// consent pages over HTTP.
//
//   node driver.mjs '{"op": "flow", ...}'
//
// It prints one JSON object: what happened at each stage, so that the Go
// test decides what is right. Options of op "flow":
//   issuer, client_id, client_secret, auth ("basic" | "post"),
//   redirect_uri, mode ("plain" | "par" | "jar" | "par+jar"),
//   jwk (the client's private key, for JAR), response_mode, params (more
//   authorize parameters), probe (sent as x-e2e-probe on every request),
//   exchange (default true: redeem the code and read userinfo).
import * as client from 'openid-client';
import { importJWK } from 'jose';

const opts = JSON.parse(process.argv[2]);
const out = { steps: [] };

function probed(headers) {
  const h = new Headers(headers);
  if (opts.probe) h.set('x-e2e-probe', opts.probe);
  return h;
}

async function flow() {
  const auth = opts.auth === 'post'
    ? client.ClientSecretPost(opts.client_secret)
    : client.ClientSecretBasic(opts.client_secret);
  const probedFetch = (url, options) => fetch(url, { ...options, headers: probed(options.headers) });
  const config = await client.discovery(new URL(opts.issuer), opts.client_id, undefined, auth, {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: probedFetch,
  });
  config[client.customFetch] = probedFetch;

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
  out.authorize_url = url.href;

  // The browser's part: follow the server's redirects, sign in and consent
  // on its pages, until it sends the browser away from itself.
  out.stage = 'authorize';
  const origin = new URL(opts.issuer).origin;
  const jar = new Map();
  let request = { url, method: 'GET' };
  let final;
  for (let i = 0; i < 20 && !final; i += 1) {
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
  out.final = final;
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
  out.sub = tokens.claims()?.sub;
  out.stage = 'userinfo';
  const info = await client.fetchUserInfo(config, tokens.access_token, out.sub);
  out.userinfo_sub = info.sub;
  out.stage = 'done';
}

try {
  if (opts.op !== 'flow') throw new Error(`unknown op ${opts.op}`);
  await flow();
} catch (err) {
  out.failure = { name: err.name, message: err.message, status: err.status, body: err.cause };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
