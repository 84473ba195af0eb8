// Interop: the official TypeScript MCP client (npm @modelcontextprotocol/sdk, pinned in package.json) drives
// the `calculator` example over stdio and over streamable HTTP, while a local PostHog ingestion server records
// what the server reports. Run with `node --test` in this folder; CALCULATOR_BIN names the built binary
// (`cargo build -p examples --bin calculator`). `cargo test -p examples` runs it for you.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const CLIENT = { name: 'ts-interop-client', version: '3.1.4' };
const API_KEY = 'phc_interop_project';

const binary = process.env.CALCULATOR_BIN;
if (!binary || !existsSync(binary)) {
  throw new Error(
    `CALCULATOR_BIN must name the calculator binary (got ${JSON.stringify(binary)}); ` +
      'build it with `cargo build -p examples --bin calculator`, or run `cargo test -p examples`',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// A local ingestion server: records the items of every POST /batch/ body (gzip or plain) and answers 200.

async function startIngest() {
  const events = [];
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url, 'http://ingest');
      let body = Buffer.concat(chunks);
      const gzip =
        /gzip/i.test(req.headers['content-encoding'] ?? '') ||
        url.searchParams.get('compression') === 'gzip' ||
        (body[0] === 0x1f && body[1] === 0x8b);
      requests.push({ method: req.method, path: url.pathname, gzip });
      if (req.method !== 'POST' || !/^\/batch\/?$/.test(url.pathname)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      try {
        if (gzip) body = gunzipSync(body);
        const parsed = JSON.parse(body.toString('utf8'));
        events.push(...(parsed.batch ?? []));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":1}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

function serverEnv(ingest, extra = {}) {
  const env = { ...process.env, POSTHOG_API_KEY: API_KEY, POSTHOG_HOST: ingest.url, RUST_LOG: 'info', ...extra };
  delete env.POSTHOG_MCP_LOCAL_SINK;
  if (!('CALCULATOR_USER' in extra)) delete env.CALCULATOR_USER;
  return env;
}

function text(result) {
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join(' ');
}

/** Runs the client-visible checks shared by both transports. */
async function exerciseCalculator(client) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  for (const name of ['add', 'divide', 'fail_result']) assert.ok(names.includes(name), `tools: ${names}`);
  const add = tools.find((t) => t.name === 'add');
  assert.ok(add.description && add.description.length > 0, 'add has a description');
  const properties = Object.keys(add.inputSchema.properties ?? {});
  assert.ok(properties.includes('a') && properties.includes('b'), `add's arguments: ${properties}`);

  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  assert.notEqual(sum.isError, true);
  assert.equal(text(sum), '5');

  const quotient = await client.callTool({ name: 'divide', arguments: { a: 9, b: 3 } });
  assert.equal(text(quotient), '3');

  // The typed error reaches the client as an error result it can read.
  const byZero = await client.callTool({ name: 'divide', arguments: { a: 1, b: 0 } });
  assert.equal(byZero.isError, true);
  assert.match(text(byZero), /zero/);

  const failed = await client.callTool({ name: 'fail_result', arguments: {} });
  assert.equal(failed.isError, true);
  assert.ok(text(failed).length > 0);

  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === 'mem://greeting'), JSON.stringify(resources));
  const greeting = await client.readResource({ uri: 'mem://greeting' });
  assert.equal(greeting.contents[0].uri, 'mem://greeting');
  assert.equal(greeting.contents[0].text, 'Hello!');

  const { prompts } = await client.listPrompts();
  assert.ok(prompts.some((p) => p.name === 'hello'), JSON.stringify(prompts));
  const hello = await client.getPrompt({ name: 'hello' });
  assert.equal(hello.messages[0].role, 'user');
  assert.match(hello.messages[0].content.text, /Hello/);
}

function named(events, name) {
  return events.filter((e) => e.event === name);
}

function toolCall(events, tool, predicate = () => true) {
  const found = named(events, '$mcp_tool_call').filter(
    (e) => e.properties.$mcp_tool_name === tool && predicate(e),
  );
  assert.ok(found.length > 0, `a $mcp_tool_call for ${tool} in ${summary(events)}`);
  return found[0];
}

function summary(events) {
  return JSON.stringify(
    events.map((e) => [e.event, e.distinct_id, e.properties.$mcp_tool_name ?? e.properties.$mcp_resource_name]),
  );
}

/**
 * One client session as PostHog shows it: every event carries the same `$session_id`, and each `$identify`
 * merges exactly that id into the person. Returns the session id.
 */
function assertOneSession(events) {
  const sessions = new Set(events.map((e) => e.properties.$session_id));
  assert.equal(sessions.size, 1, `one session on every event, $mcp_initialize included: ${[...sessions]}`);
  const [session] = sessions;
  for (const announced of named(events, '$identify')) {
    assert.equal(announced.properties.$anon_distinct_id, session, 'the $identify merges this session');
  }
  return session;
}

/**
 * The events every run must report, attributed to `user` with `plan` and `organization`; `announcements` is how
 * many `$identify` events the identity gets (one per session).
 */
function assertReported(events, { user, plan, organization, name, announcements = 1 }) {
  const init = named(events, '$mcp_initialize');
  assert.equal(init.length, 1, summary(events));
  assert.equal(init[0].properties.$mcp_client_name, CLIENT.name);
  assert.equal(init[0].properties.$mcp_client_version, CLIENT.version);
  assert.equal(init[0].properties.$mcp_server_name, 'calculator');

  for (const e of events) {
    assert.equal(e.properties.$lib, 'posthog-rs-mcp', `${e.event} labelled`);
    assert.ok(e.uuid && e.timestamp, `${e.event} has uuid and timestamp`);
  }

  const add = toolCall(events, 'add', (e) => e.properties.$mcp_parameters?.request?.params?.arguments?.a === 2);
  assert.equal(add.properties.$mcp_is_error, false);
  assert.equal(add.properties.$mcp_client_name, CLIENT.name);
  assert.equal(typeof add.properties.$mcp_duration_ms, 'number');

  const byZero = toolCall(events, 'divide', (e) => e.properties.$mcp_is_error === true);
  assert.match(byZero.properties.$mcp_error_type, /CalcError$/);
  assert.match(byZero.properties.$mcp_error_message, /zero/);
  const divided = toolCall(events, 'divide', (e) => e.properties.$mcp_is_error === false);
  assert.equal(divided.properties.$mcp_error_type, undefined);

  const failed = toolCall(events, 'fail_result');
  assert.equal(failed.properties.$mcp_is_error, true);
  assert.equal(failed.properties.$mcp_error_type, 'Error');

  assert.equal(named(events, '$mcp_resource_read').length, 1, summary(events));
  assert.equal(named(events, '$mcp_prompt_get').length, 1, summary(events));

  // Identity: every tool call is the user's, with the organization group; the identity is announced once.
  for (const call of named(events, '$mcp_tool_call')) {
    assert.equal(call.distinct_id, user, `${call.properties.$mcp_tool_name} attributed`);
    assert.deepEqual(call.properties.$groups, { organization });
    assert.equal(call.properties.$process_person_profile, undefined);
  }
  const identify = named(events, '$identify');
  assert.equal(identify.length, announcements, summary(events));
  for (const announced of identify) {
    assert.equal(announced.distinct_id, user);
    assert.deepEqual(announced.properties.$set, { name, plan });
    assert.deepEqual(announced.properties.$groups, { organization });
  }
}

/** Starts `calculator --http 127.0.0.1:0 ...` and resolves with the URL it logs on stderr. */
function startHttpServer(ingest, flags) {
  const child = spawn(binary, ['--http', '127.0.0.1:0', ...flags], {
    env: serverEnv(ingest),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (output.stdout += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      output.stderr += d;
      const found = output.stderr.match(/(http:\/\/127\.0\.0\.1:\d+\/mcp)/);
      if (found) resolve(found[1]);
    });
    child.on('exit', (code) => reject(new Error(`calculator exited (${code}) before serving:\n${output.stderr}`)));
    setTimeout(() => reject(new Error(`calculator did not log its URL:\n${output.stderr}`)), 20_000).unref();
  });
  return { child, output, exited, url };
}

// ---------------------------------------------------------------------------------------------------------------
// The tests.

test('stdio: results, then every event delivered before the process exits', { timeout: 60_000 }, async (t) => {
  const ingest = await startIngest();
  t.after(() => ingest.close());
  const transport = new StdioClientTransport({
    command: binary,
    env: serverEnv(ingest, { CALCULATOR_USER: 'carol' }),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr.on('data', (d) => (stderr += d));
  const client = new Client(CLIENT);
  await client.connect(transport);
  try {
    await exerciseCalculator(client);
  } catch (error) {
    error.message += `\n--- calculator stderr ---\n${stderr}`;
    throw error;
  }
  const pid = transport.pid;
  // Closing ends the server's stdin; it flushes and exits. Nothing more can arrive after that.
  await client.close();
  assert.throws(() => process.kill(pid, 0), 'the server process has exited');

  const events = ingest.events;
  t.diagnostic(`stdio events: ${summary(events)}`);
  assertReported(events, { user: 'carol', name: 'carol', plan: 'free', organization: 'local' });
  assert.ok(ingest.requests.every((r) => r.gzip), 'posthog-rs sends gzip');
  assert.ok(!/phc_interop_project/.test(stderr), 'the key is never logged');
});

test('stdio: SIGTERM with stdin still open flushes, then exits', { timeout: 60_000 }, async (t) => {
  const ingest = await startIngest();
  t.after(() => ingest.close());
  const transport = new StdioClientTransport({ command: binary, env: serverEnv(ingest), stderr: 'pipe' });
  let stderr = '';
  transport.stderr.on('data', (d) => (stderr += d));
  const client = new Client(CLIENT);
  await client.connect(transport);
  assert.equal(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })), '5');

  // The SDK keeps the child private; watch the pid instead.
  const pid = transport.pid;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(alive(), false, `the server exits on SIGTERM:\n${stderr}`);
  await client.close();

  const events = ingest.events;
  t.diagnostic(`stdio SIGTERM events: ${summary(events)}`);
  assert.equal(named(events, '$mcp_initialize').length, 1, summary(events));
  const add = toolCall(events, 'add');
  // Without CALCULATOR_USER the caller is anonymous: the session id, and no person profile.
  assert.equal(add.distinct_id, add.properties.$session_id);
  assert.equal(add.properties.$process_person_profile, false);
  assert.equal(named(events, '$identify').length, 0);
});

test('streamable HTTP (stateful): Bearer alice-token is alice; flushed on SIGTERM', { timeout: 60_000 }, async (t) => {
  const ingest = await startIngest();
  t.after(() => ingest.close());
  const server = startHttpServer(ingest, []);
  t.after(() => server.child.kill('SIGKILL'));
  const url = await server.url;

  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: 'Bearer alice-token' } },
  });
  const client = new Client(CLIENT);
  await client.connect(transport);
  try {
    assert.ok(transport.sessionId, 'a stateful server hands out a session id');
    await exerciseCalculator(client);
    await transport.terminateSession();
    await client.close();
  } catch (error) {
    error.message += `\n--- calculator stderr ---\n${server.output.stderr}`;
    throw error;
  }

  server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  assert.equal(code, 0, `clean exit (signal ${signal}):\n${server.output.stderr}`);
  assert.equal(server.output.stdout, '', 'nothing on stdout');

  const events = ingest.events;
  t.diagnostic(`http events: ${summary(events)}`);
  // One HTTP session is one PostHog session from `initialize` on, and alice is announced once.
  assertReported(events, {
    user: 'alice',
    name: 'Alice Liddell',
    plan: 'pro',
    organization: 'wonderland',
  });
  assertOneSession(events);
});

test('streamable HTTP (stateless): bob and an anonymous caller', { timeout: 60_000 }, async (t) => {
  const ingest = await startIngest();
  t.after(() => ingest.close());
  const server = startHttpServer(ingest, ['--stateless']);
  t.after(() => server.child.kill('SIGKILL'));
  const url = await server.url;

  const connect = async (headers) => {
    const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
    const client = new Client(CLIENT);
    await client.connect(transport);
    return { client, transport };
  };
  const bob = await connect({ Authorization: 'Bearer bob-token' });
  assert.ok(bob.transport.sessionId, 'a stateless server hands out a session token');
  assert.equal(text(await bob.client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })), '42');
  assert.equal(text(await bob.client.callTool({ name: 'add', arguments: { a: 40, b: 3 } })), '43');
  await bob.client.listTools();
  await bob.client.close();
  const stranger = await connect({ Authorization: 'Bearer unknown-token' });
  assert.equal(text(await stranger.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })), '2');
  await stranger.client.close();

  server.child.kill('SIGTERM');
  const { code } = await server.exited;
  assert.equal(code, 0, server.output.stderr);

  const events = ingest.events;
  t.diagnostic(`stateless events: ${summary(events)}`);
  for (const e of events) {
    assert.equal(e.properties.$mcp_client_name, CLIENT.name, `${e.event}: the real client, on every request`);
  }
  const bobs = toolCall(events, 'add', (e) => e.properties.$mcp_parameters?.request?.params?.arguments?.a === 40);
  assert.equal(bobs.distinct_id, 'bob');
  assert.deepEqual(bobs.properties.$groups, { organization: 'fixit' });
  const bobSession = bobs.properties.$session_id;
  const bobEvents = events.filter((e) => e.properties.$session_id === bobSession);
  // bob's initialize, two calls and a listing, all on his one session, plus one $identify.
  assert.equal(bobEvents.filter((e) => e.event !== '$identify').length, 4, summary(bobEvents));
  assert.equal(named(bobEvents, '$identify').length, 1, summary(bobEvents));
  assertOneSession(bobEvents);
  const anonymous = toolCall(events, 'add', (e) => e.properties.$mcp_parameters?.request?.params?.arguments?.a === 1);
  assert.notEqual(anonymous.properties.$session_id, bobSession, 'another client, another session');
  assert.equal(anonymous.distinct_id, anonymous.properties.$session_id);
  assert.equal(anonymous.properties.$process_person_profile, false);
  assert.equal(named(events, '$identify').length, 1, 'only bob is announced');
});
