// The authorization server of the end-to-end suite: node-oidc-provider with
// its development login and consent pages, PAR and request objects.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": 4000, "issuer": "http://127.0.0.1:8080",
//          "clients": [...client metadata...],
//          "allowUnregisteredRedirectUris": false}
//
// Every request the server receives is printed to stdout as one JSON line
// {"seen": {"method", "path", "query", "probe"}}, where probe is the
// request's x-e2e-probe header: the Go test reads this log to prove which
// requests reached the server. A line {"listening": port} says it is ready.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  // Keys of the server: generated at start, the suite never keeps tokens.
  features: {
    devInteractions: { enabled: true },
    pushedAuthorizationRequests: {
      enabled: true,
      allowUnregisteredRedirectUris: Boolean(config.allowUnregisteredRedirectUris),
    },
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub }),
  }),
  // Behind Caddy on plain HTTP loopback: trust X-Forwarded-* as Koa does.
  cookies: { keys: ['e2e-cookie-key'] },
});
provider.proxy = true;

const handle = provider.callback();
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const seen = {
    method: req.method,
    path: url.pathname,
    query: url.search.slice(1),
    probe: req.headers['x-e2e-probe'] || '',
  };
  process.stdout.write(`${JSON.stringify({ seen })}\n`);
  handle(req, res);
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ listening: config.port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
