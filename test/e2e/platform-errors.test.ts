import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { systemClock } from '../../src/domain/clock.ts';
import { buildApp, logOptions, type App } from '../../src/http/app.ts';
import { createServices, type Services } from '../../src/services.ts';
import { openDatabase } from '../../src/stores/sql/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * Sends raw bytes on one connection and collects what the server answers until the connection
 * closes; `serverClosed` says whether the server closed it (rather than our timeout).
 */
function rawExchange(
  url: string,
  chunks: Array<string | (() => Promise<void>)>,
  timeoutMs = 10_000,
): Promise<{ text: string; serverClosed: boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = '';
    let serverClosed = false;
    const socket = net.connect(Number(port), '127.0.0.1', async () => {
      for (const chunk of chunks) {
        if (typeof chunk === 'string') socket.write(chunk);
        else await chunk();
      }
    });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding('utf8').on('data', (data: string) => (received += data));
    socket.on('error', reject);
    socket.on('end', () => (serverClosed = true));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: received, serverClosed });
    });
  });
}

/** The JSON bodies of the HTTP responses in a raw exchange, with their status codes. */
function parseResponses(raw: string): Array<{ status: number; body: Json }> {
  const responses = [];
  const pattern = /HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g;
  for (let match = pattern.exec(raw); match; match = pattern.exec(raw)) {
    const length = Number(/content-length: (\d+)/i.exec(match[2]!)?.[1] ?? 0);
    const start = match.index + match[0].length;
    responses.push({ status: Number(match[1]), body: JSON.parse(raw.slice(start, start + length)) });
    pattern.lastIndex = start + length;
  }
  return responses;
}

describe('errors over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_BODY_LIMIT: '2048' } });
  });
  after(() => server.stop());

  test('unknown routes answer 404 {detail, code}', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['POST', '/api/v1/nope'],
      ['PUT', '/api/v1/keys'],
      ['GET', '/api/v1/keys/1/extra'],
    ]) {
      const response = await server.api(path!, { method });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.deepEqual(response.body, { detail: `Route ${method} ${path} not found`, code: 'not_found' });
    }
  });

  test('malformed JSON answers 400 naming the body', async () => {
    for (const body of ['{"name": ', '{"name": "x",}', 'null garbage']) {
      const response = await server.api('/api/v1/keys', { method: 'POST', body });
      assert.equal(response.status, 400, body);
      assert.deepEqual(response.body, { detail: 'body: is not valid JSON', code: 'validation_failed' });
    }
  });

  test('an empty body sent as application/json is no body, as many HTTP clients send on DELETE and optional-body POSTs', async () => {
    const json = { 'content-type': 'application/json' };
    const session = await server.api('/api/v1/sessions', { method: 'POST', body: '', headers: json });
    assert.equal(session.status, 201, session.text);
    const deleted = await server.api(`/v1/chat/sessions/${session.body.id}`, {
      method: 'DELETE',
      body: '',
      headers: json,
    });
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(deleted.body, { message: 'Session deleted successfully' });
    const key = await server.api('/api/v1/keys', { method: 'POST', body: '', headers: json });
    assert.equal(key.status, 201, key.text);
    for (const method of ['POST', 'DELETE']) {
      const unknown = await server.api('/api/v1/nope', { method, body: '', headers: json });
      assert.equal(unknown.status, 404, `${method}: ${unknown.text}`);
    }
    // A route whose body is required still says so, naming the field.
    const user = await server.api('/users', { method: 'POST', body: '', headers: json, auth: null });
    assert.equal(user.status, 400);
    assert.equal(user.body.code, 'validation_failed');
  });

  test('validation errors name the field, in the body and in the query string', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/v1/keys', { name: 'x'.repeat(201) }, 'body.name: must NOT have more than 200 characters'],
      ['POST', '/api/v1/keys', { limits: { requests_per_day: -1 } }, 'body.limits.requests_per_day: must be >= 0'],
      ['POST', '/api/v1/keys', { limits: { per_hour: 5 } }, 'body.limits.per_hour: is not a known field'],
      ['POST', '/api/v1/keys', { owner: 'me' }, 'body.owner: is not a known field'],
      ['POST', '/api/v1/keys', [1, 2], 'body: must be object'],
      ['GET', '/api/v1/users?limit=1000', undefined, 'query.limit: must be <= 100'],
      ['GET', '/api/v1/users?offset=minus-one', undefined, 'query.offset: must be integer'],
      ['PATCH', '/api/v1/users/admin', {}, 'body.disabled: is required'],
    ];
    for (const [method, path, body, detail] of cases) {
      const response = await server.api(path, { method, body });
      assert.equal(response.status, 400, `${method} ${path}`);
      assert.deepEqual(response.body, { detail, code: 'validation_failed' });
    }
  });

  test('a body larger than CAUSERIE_BODY_LIMIT answers 413', async () => {
    const fits = await server.api('/api/v1/keys', { method: 'POST', body: { name: 'x'.repeat(150) } });
    assert.equal(fits.status, 201);
    const response = await server.api('/api/v1/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'x'.repeat(3000) }),
    });
    assert.equal(response.status, 413);
    assert.deepEqual(response.body, { detail: 'Request body is too large', code: 'payload_too_large' });
  });

  test('a body in a format the route does not read answers 415', async () => {
    for (const type of ['text/csv', 'text/plain', 'application/x-www-form-urlencoded']) {
      const response = await server.api('/api/v1/keys', {
        method: 'POST',
        body: 'name=x',
        headers: { 'content-type': type },
      });
      assert.equal(response.status, 415, type);
      assert.deepEqual(response.body, {
        detail: 'Unsupported Content-Type; send application/json',
        code: 'unsupported_media_type',
      });
    }
    // What `curl -d` sends: a form. It used to create an account on a JSON route.
    const form = await server.api('/users', {
      method: 'POST',
      auth: null,
      body: 'username=formed&password=formed-password',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415);
    assert.equal((await server.api('/users/formed')).status, 404);
  });

  test('a URL that is not valid percent-encoding answers 400 in the same shape', async () => {
    const response = await fetch(`${server.url}/users/%zz`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.code, 'validation_failed');
    assert.deepEqual(Object.keys(body).sort(), ['code', 'detail']);
  });

  test('bytes that are not HTTP, and oversized headers, still get {detail, code}', async () => {
    const [garbage] = parseResponses((await rawExchange(server.url, ['HELLO THERE\r\n\r\n'])).text);
    assert.deepEqual(garbage, { status: 400, body: { detail: 'Malformed HTTP request', code: 'validation_failed' } });
    const [headers] = parseResponses(
      (await rawExchange(server.url, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]))
        .text,
    );
    assert.deepEqual(headers, {
      status: 431,
      body: { detail: 'Request headers too large', code: 'headers_too_large' },
    });
  });

  test('every response carries a request id; a sane X-Request-Id is kept', async () => {
    const generated = await server.api('/healthz');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const kept = await server.api('/nope', { headers: { 'x-request-id': 'trace-123.abc' } });
    assert.equal(kept.headers.get('x-request-id'), 'trace-123.abc');
    const replaced = await server.api('/healthz', { headers: { 'x-request-id': 'has spaces and <html>' } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});

describe('internal errors', () => {
  let app: App;
  let services: Services;
  let dataDir: string;
  let logs = '';
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'causerie-errors-'));
    const config = loadConfig({ CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: 'unused-admin-password' });
    const sql = await openDatabase({ sqlitePath: join(dataDir, 'causerie.sqlite') });
    services = createServices({ config, sql, clock: systemClock, tokenSecret: 'x'.repeat(32), version: 'test' });
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk;
        done();
      },
    });
    const logger = { ...(logOptions('info') as object), stream };
    app = await buildApp({ services, logger });
    // Routes that fail the way a bug would: registered here because no real route fails on purpose.
    app.get('/test/boom', async () => {
      throw new Error('connect ECONNREFUSED postgres://causerie:hunter2@db.internal:5432');
    });
    app.get('/test/boom-openai', { config: { surface: 'openai' } }, async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'secret')");
    });
    app.get('/test/throws-a-string', async () => {
      throw 'a string, not an Error';
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('an unexpected error answers a generic 500 with the request id, never the message or stack', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/boom', headers: { 'x-request-id': 'req-boom-1' } });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(response.json(), {
      detail: 'Internal server error (request id req-boom-1)',
      code: 'internal_error',
    });
    assert.ok(!/hunter2|ECONNREFUSED|at .*\.ts|stack/i.test(response.body));
    // The details stay in the server's log, under the same request id.
    const line = logs.split('\n').find((l) => l.includes('hunter2'));
    assert.ok(line, 'the error is logged');
    assert.equal(JSON.parse(line!).reqId, 'req-boom-1');
  });

  test("on the OpenAI surface the 500 takes OpenAI's error shape, equally bare", async () => {
    const response = await app.inject({ method: 'GET', url: '/test/boom-openai' });
    assert.equal(response.statusCode, 500);
    const body = response.json();
    assert.deepEqual(Object.keys(body), ['error']);
    assert.equal(body.error.code, 'internal_error');
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /^Internal server error \(request id [0-9a-f-]{36}\)$/);
    assert.ok(!response.body.includes('secret'));
  });

  test('throwing something that is not an Error is still a clean 500', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/throws-a-string' });
    assert.equal(response.statusCode, 500);
    assert.equal(response.json().code, 'internal_error');
    assert.ok(!response.body.includes('a string'));
  });
});

describe('shutting down', () => {
  test('a request running at close finishes with Connection: close, then the server closes the connection', async () => {
    const server = await startTestServer();
    const body = JSON.stringify({ username: 'drain-test', password: 'drain-test-password' });
    let closed: Promise<void> | undefined;
    const { text, serverClosed } = await rawExchange(server.url, [
      `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        closed = server.stop();
        await new Promise((resolve) => setTimeout(resolve, 100));
      },
      // The rest of the body, and a second request pipelined on the same connection: it is not served.
      `${body.slice(10)}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
    ]);
    const responses = parseResponses(text);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]!.status, 201);
    assert.equal(responses[0]!.body.username, 'drain-test');
    assert.match(text, /\r\nconnection: close\r\n/i);
    // Fastify keeps idle connections 72 s: the server must close this one itself for the drain to end.
    assert.ok(serverClosed, 'the server closed the connection after the response');
    await closed;
  });
});
