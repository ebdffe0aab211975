// Starts the reference Bluesky PDS (@atproto/dev-env's TestNetworkNoAppView:
// an in-memory PLC directory and a PDS on loopback), creates one account and
// an app password for it, and prints one JSON line on stdout:
//
//   {"pdsURL": "http://localhost:…", "plcURL": "http://localhost:…", "handle": "…", "did": "did:plc:…", "password": "<app password>"}
//
// It then stays up until stdin closes or it gets SIGTERM/SIGINT, and shuts the
// network down before exiting. Everything else it has to say goes to stderr.
//
//   node start.mjs [handle]      (default handle: herald.test)
import { TestNetworkNoAppView } from '@atproto/dev-env';

const handle = process.argv[2] || 'herald.test';
const accountPassword = 'herald-account-password';

async function xrpc(base, method, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/xrpc/${method}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

const started = Date.now();
const network = await TestNetworkNoAppView.create({});
let closing;
function shutdown(why) {
  if (!closing) {
    console.error(`pds: ${why}, shutting down`);
    closing = network.close().then(
      () => process.exit(0),
      (err) => { console.error('pds: close:', err); process.exit(1); },
    );
  }
  return closing;
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();

try {
  const base = network.pds.url;
  const account = await xrpc(base, 'com.atproto.server.createAccount',
    { email: `${handle.split('.')[0]}@herald.test`, handle, password: accountPassword });
  // Herald logs in the way a person sets it up: with an app password.
  const app = await xrpc(base, 'com.atproto.server.createAppPassword', { name: 'herald' }, account.accessJwt);
  console.error(`pds: up at ${base} in ${Date.now() - started} ms, account ${account.handle} (${account.did})`);
  process.stdout.write(JSON.stringify({ pdsURL: base, plcURL: network.plc.url, handle: account.handle, did: account.did, password: app.password }) + '\n');
} catch (err) {
  console.error('pds:', err);
  await network.close().catch(() => {});
  process.exit(1);
}
