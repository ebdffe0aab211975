// An independent MCP client for Herald built on the official TypeScript SDK
// (@modelcontextprotocol/sdk). The SDK's own auth() does the OAuth work: protected
// resource and authorization server discovery, dynamic client registration, PKCE S256
// and the RFC 8707 resource parameter. This script only plays the person at the
// browser: it answers Herald's login and consent forms over plain HTTP (ticking only
// the workspace it is told to) and catches the redirect to its loopback redirect URI.
//
// Then it lists the tools, drafts a post, schedules it five seconds ahead, polls
// ocoya_get_post until the post is Published, makes a weekly recurring post, lists
// its next occurrences and skips one, and sends a raw JSON-RPC batch array.
// It prints one JSON summary on stdout (test/e2e/clients_typescript_test.go asserts on
// it) and exits non-zero on any failure.
//
// With HERALD_CLIENT_METADATA_URL set, the client identifies itself by that client ID
// metadata document instead of registering (the SDK does so when Herald advertises
// client_id_metadata_document_supported), redirects to http://localhost:<port>/callback
// as the document lists it without a port, and stops after its first tool calls.
//
// Usage: node ts-client.mjs <mcp-url>
//   HERALD_USERNAME, HERALD_PASSWORD  the local user to sign in as
//   HERALD_WORKSPACE                  the one workspace to approve (default demo)
//   HERALD_CLIENT_METADATA_URL        the https URL of a client ID metadata document
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const mcpURL = new URL(process.argv[2] ?? fail('usage: node ts-client.mjs <mcp-url>'));
const username = process.env.HERALD_USERNAME ?? 'dev';
const password = process.env.HERALD_PASSWORD ?? fail('HERALD_PASSWORD is not set');
const workspace = process.env.HERALD_WORKSPACE ?? 'demo';
const clientMetadataURL = process.env.HERALD_CLIENT_METADATA_URL;
const publishTimeoutMs = 60_000;

const summary = {};

function fail(message) {
  throw new Error(message);
}

// ---- the person at the browser -------------------------------------------------

/** Decodes the entities Go's html/template writes into attribute values. */
function unescapeHTML(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, e) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()];
    if (named) return named;
    return String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function formOf(html, what) {
  const action = html.match(/<form[^>]*\baction="([^"]*)"/i)?.[1];
  const csrf = html.match(/name="csrf_token"\s+value="([^"]*)"/i)?.[1];
  if (action === undefined || csrf === undefined) fail(`no ${what} form with a csrf_token in:\n${html.slice(0, 2000)}`);
  return { action: unescapeHTML(action), csrf: unescapeHTML(csrf) };
}

/** A browser's fetch: one cookie jar, redirects followed by hand so the last hop is seen. */
class Browser {
  cookies = new Map();

  async request(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Follows redirects until a page answers; returns [finalURL, response]. */
  async follow(url, init = {}) {
    let current = new URL(url);
    let res = await this.request(current, init);
    for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
      if (hops > 10) fail(`too many redirects from ${url}`);
      current = new URL(res.headers.get('location'), current);
      res = await this.request(current);
    }
    return [current, res];
  }

  postForm(url, fields) {
    const body = new URLSearchParams();
    for (const [k, v] of fields) body.append(k, v);
    return this.follow(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
}

/** Signs in, approves exactly one workspace and lands on the redirect URI. */
async function answerLoginAndConsent(authorizationURL) {
  const browser = new Browser();
  let [pageURL, res] = await browser.follow(authorizationURL);
  let html = await res.text();
  if (res.status !== 200 || !/name="password"/.test(html)) fail(`expected the login page, got ${res.status}:\n${html.slice(0, 2000)}`);
  const login = formOf(html, 'login');
  [pageURL, res] = await browser.postForm(new URL(login.action, pageURL), [
    ['csrf_token', login.csrf],
    ['username', username],
    ['password', password],
  ]);
  html = await res.text();
  if (res.status !== 200 || !/name="workspace"/.test(html)) fail(`expected the consent page, got ${res.status}:\n${html.slice(0, 2000)}`);
  summary.consentWorkspaces = [...html.matchAll(/name="workspace"\s+value="([^"]*)"/g)].map((m) => unescapeHTML(m[1]));
  summary.consentClientHost = unescapeHTML(html.match(/id="client-host">[^<]*<strong>([^<]*)<\/strong>/)?.[1] ?? '');
  const consent = formOf(html, 'consent');
  [pageURL, res] = await browser.postForm(new URL(consent.action, pageURL), [
    ['csrf_token', consent.csrf],
    ['workspace', workspace],
    ['action', 'approve'],
  ]);
  if (res.status !== 200) fail(`the redirect URI answered ${res.status} at ${pageURL}: ${await res.text()}`);
  await res.text();
}

// ---- the OAuth client provider the SDK drives -----------------------------------

/** Serves the loopback redirect URI and hands over the authorization code. */
async function startRedirectServer() {
  let resolveCode, rejectCode;
  const code = new Promise((resolve, reject) => ((resolveCode = resolve), (rejectCode = reject)));
  code.catch(() => {}); // awaited later; a failure before then must not crash the process
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    summary.redirect = Object.fromEntries(u.searchParams);
    delete summary.redirect.code;
    if (u.searchParams.get('code')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('Authorized; you can close this window.');
      resolveCode(u.searchParams.get('code'));
    } else {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('no code');
      rejectCode(new Error(`authorization failed: ${u.searchParams.get('error')} ${u.searchParams.get('error_description')}`));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = clientMetadataURL ? 'localhost' : '127.0.0.1';
  return { server, code, url: `http://${host}:${server.address().port}/callback` };
}

class FormAnsweringProvider {
  #clientInformation;
  #tokens;
  #codeVerifier;

  constructor(redirectURL) {
    this.redirectURL = redirectURL;
    this.browserDone = null;
  }

  // A state value the callback checks, as a careful client does. (Herald refuses an
  // authorization request without one, though OAuth 2.1 with PKCE makes it optional.)
  state() {
    this.expectedState = randomBytes(16).toString('hex');
    return this.expectedState;
  }

  get redirectUrl() {
    return this.redirectURL;
  }

  get clientMetadataUrl() {
    return clientMetadataURL;
  }

  get clientMetadata() {
    return {
      client_name: 'Herald e2e (TypeScript SDK)',
      redirect_uris: [this.redirectURL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.#clientInformation;
  }

  saveClientInformation(info) {
    summary.registeredClientId = info.client_id;
    this.#clientInformation = info;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    summary.tokenType = tokens.token_type;
    summary.gotRefreshToken = Boolean(tokens.refresh_token);
    this.#tokens = tokens;
  }

  saveCodeVerifier(v) {
    this.#codeVerifier = v;
  }

  codeVerifier() {
    if (!this.#codeVerifier) fail('no PKCE code verifier saved');
    return this.#codeVerifier;
  }

  redirectToAuthorization(url) {
    summary.authorizationRequest = {
      endpoint: url.origin + url.pathname,
      codeChallengeMethod: url.searchParams.get('code_challenge_method'),
      hasCodeChallenge: Boolean(url.searchParams.get('code_challenge')),
      resource: url.searchParams.get('resource'),
      scope: url.searchParams.get('scope'),
      clientId: url.searchParams.get('client_id'),
    };
    // The SDK throws UnauthorizedError once this returns; the "browser" goes on meanwhile.
    this.browserDone = answerLoginAndConsent(url);
  }
}

// ---- MCP --------------------------------------------------------------------------

function structured(result, tool) {
  if (result.isError) fail(`${tool} answered an error: ${JSON.stringify(result.content)}`);
  if (!result.structuredContent) fail(`${tool} has no structuredContent`);
  return result.structuredContent;
}

async function connect(provider) {
  // The client shows links itself (URL-mode elicitation): it records what it
  // was asked to open and answers that the person accepted.
  const client = new Client({ name: 'herald-e2e-ts-sdk', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    (summary.elicitations ??= []).push({ mode: request.params.mode, url: request.params.url, message: request.params.message });
    return { action: 'accept' };
  });
  let transport = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  try {
    await client.connect(transport);
    fail('connected without authorization; Herald must answer 401 first');
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  if (!provider.browserDone) fail('the SDK did not start an authorization');
  await provider.browserDone;
  const code = await provider.codePromise;
  if (summary.redirect?.state !== provider.expectedState) fail(`the redirect carried state ${summary.redirect?.state}, expected ${provider.expectedState}`);
  await transport.finishAuth(code);
  transport = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
  await client.connect(transport);
  return { client, transport };
}

/** Sends a JSON-RPC batch array on the session, with the access token, by plain fetch. */
async function sendBatch(transport, accessToken) {
  const batch = [
    { jsonrpc: '2.0', id: 'b1', method: 'tools/list', params: {} },
    { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'none', progress: 1 } },
    { jsonrpc: '2.0', id: 'b2', method: 'ping' },
    { jsonrpc: '2.0', id: 'b3', method: 'tools/call', params: { name: 'ocoya_list_workspaces', arguments: {} } },
  ];
  const headers = {
    authorization: `Bearer ${accessToken}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (transport.sessionId) headers['mcp-session-id'] = transport.sessionId;
  if (transport.protocolVersion) headers['mcp-protocol-version'] = transport.protocolVersion;
  const res = await fetch(mcpURL, { method: 'POST', headers, body: JSON.stringify(batch) });
  const text = await res.text();
  let body;
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
    body = data.length === 1 ? JSON.parse(data[0]) : data.map((d) => JSON.parse(d));
  } else {
    body = JSON.parse(text);
  }
  if (!Array.isArray(body)) fail(`the batch was not answered with an array (${res.status}): ${text.slice(0, 1000)}`);
  return {
    status: res.status,
    isArray: true,
    ids: body.map((r) => r.id),
    errors: body.filter((r) => r.error).map((r) => r.error),
    toolCount: body.find((r) => r.id === 'b1')?.result?.tools?.length ?? 0,
    pingOk: JSON.stringify(body.find((r) => r.id === 'b2')?.result) === '{}',
    workspaces: (body.find((r) => r.id === 'b3')?.result?.structuredContent?.workspaces ?? []).map((w) => w.id),
  };
}

async function main() {
  const redirect = await startRedirectServer();
  const provider = new FormAnsweringProvider(redirect.url);
  provider.codePromise = redirect.code;
  try {
    const { client, transport } = await connect(provider);
    summary.serverName = client.getServerVersion()?.name;
    summary.protocolVersion = transport.protocolVersion;

    const { tools } = await client.listTools();
    summary.toolCount = tools.length;
    summary.toolNames = tools.map((t) => t.name).sort();

    const ws = structured(await client.callTool({ name: 'ocoya_list_workspaces', arguments: {} }), 'ocoya_list_workspaces');
    summary.workspaces = ws.workspaces.map((w) => w.id);
    if (clientMetadataURL) {
      const me = structured(await client.callTool({ name: 'ocoya_get_me', arguments: {} }), 'ocoya_get_me');
      summary.me = { client: me.client, clientName: me.clientName };
      const link = structured(
        await client.callTool({ name: 'ocoya_get_social_connection_url', arguments: { workspaceId: workspace, platform: 'mastodon', instance: 'mastodon.social' } }),
        'ocoya_get_social_connection_url',
      );
      summary.connectionLink = { url: link.url, opened: link.opened };
      await transport.terminateSession().catch(() => {});
      await client.close();
      summary.ok = true;
      return;
    }

    // Herald verifies the seeded sandbox profile right after it starts; wait for that.
    let sandbox;
    for (const until = Date.now() + 30_000; ; ) {
      const profiles = structured(
        await client.callTool({ name: 'ocoya_list_social_profiles', arguments: { workspaceId: workspace } }),
        'ocoya_list_social_profiles',
      ).profiles;
      sandbox = profiles.find((p) => p.platform === 'sandbox') ?? fail(`no sandbox profile in ${JSON.stringify(profiles)}`);
      if (sandbox.ready) break;
      if (Date.now() > until) fail(`the sandbox profile is not ready: ${JSON.stringify(sandbox)}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    const text = `Herald e2e from the TypeScript SDK, ${new Date().toISOString()}`;
    const draft = structured(
      await client.callTool({ name: 'ocoya_create_post', arguments: { workspaceId: workspace, text, profileIds: [sandbox.id] } }),
      'ocoya_create_post',
    ).post;
    summary.post = { id: draft.id, draftPhase: draft.phase };

    const due = new Date(Date.now() + 5_000);
    const scheduledAt = due.toISOString().replace(/\.\d+Z$/, 'Z');
    const scheduled = structured(
      await client.callTool({ name: 'ocoya_schedule_post', arguments: { workspaceId: workspace, postId: draft.id, scheduledAt } }),
      'ocoya_schedule_post',
    ).post;
    summary.post.scheduledAt = scheduledAt;
    summary.post.scheduledDraft = scheduled.draft;
    summary.post.scheduledAtEcho = scheduled.scheduledAt;

    const deadline = Date.now() + publishTimeoutMs;
    const phases = [];
    let post;
    for (;;) {
      post = structured(
        await client.callTool({ name: 'ocoya_get_post', arguments: { workspaceId: workspace, postId: draft.id } }),
        'ocoya_get_post',
      ).post;
      if (phases.at(-1) !== post.phase) phases.push(post.phase);
      if (post.phase === 'Published') break;
      if (['Failed', 'Missed', 'Canceled', 'Unknown', 'PartiallyPublished'].includes(post.phase)) {
        fail(`the post ended ${post.phase}: ${JSON.stringify(post)}`);
      }
      if (Date.now() > deadline) fail(`the post was not Published within ${publishTimeoutMs / 1000} s: ${JSON.stringify(post)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    summary.post.phases = phases;
    summary.post.phase = post.phase;
    summary.post.publishedSecondsAfterDue = (Date.now() - due.getTime()) / 1000;
    summary.post.deliveries = post.deliveries.map((d) => ({ profileId: d.profileId, phase: d.phase, url: d.url, publishedAt: d.publishedAt }));

    // A weekly recurring post: its next occurrences are listed, and one is skipped.
    const call = async (name, args) => structured(await client.callTool({ name, arguments: { workspaceId: workspace, ...args } }), name);
    const firstAt = new Date(Date.now() + 2 * 24 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const weekly = (
      await call('ocoya_create_post', {
        text: `Tip of the week, from the TypeScript SDK, ${firstAt}`,
        profileIds: [sandbox.id],
        scheduledAt: firstAt,
        recurrence: { frequency: 'Weekly', timeZone: 'Europe/Berlin', count: 6 },
        idempotencyKey: `ts-weekly-${firstAt}`,
      })
    ).recurringPost;
    const upcomingOf = async () =>
      ((await call('ocoya_list_posts', { limit: 100 })).upcoming ?? []).filter((o) => o.recurringPostId === weekly.id).map((o) => o.at);
    summary.recurring = { id: weekly.id, scheduledAt: firstAt, nextOccurrences: weekly.nextOccurrences, upcoming: await upcomingOf() };
    const skipAt = weekly.nextOccurrences[1];
    const afterSkip = (await call('ocoya_skip_occurrence', { recurringPostId: weekly.id, at: skipAt })).recurringPost;
    summary.recurring.skipped = skipAt;
    summary.recurring.afterSkip = afterSkip.nextOccurrences;
    summary.recurring.skip = afterSkip.skip;
    summary.recurring.upcomingAfterSkip = await upcomingOf();
    summary.recurring.read = (await call('ocoya_get_post', { postId: weekly.id })).recurringPost.nextOccurrences;

    summary.batch = await sendBatch(transport, (await provider.tokens()).access_token);

    await transport.terminateSession().catch(() => {});
    await client.close();
    summary.ok = true;
  } finally {
    redirect.server.close();
  }
}

const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ...summary, ok: false, error: 'timed out after 150 s' }));
  process.exit(2);
}, 150_000);
watchdog.unref();

try {
  await main();
  console.log(JSON.stringify(summary));
} catch (err) {
  console.log(JSON.stringify({ ...summary, ok: false, error: String(err?.stack ?? err) }));
  process.exitCode = 1;
}
