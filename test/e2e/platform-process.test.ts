import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, runCauserie, type CauserieProcess } from '../helpers/platform.ts';
import type { Json } from '../helpers/wire.ts';

const adminPassword = 'admin-secret-never-logged-1';

async function call(
  url: string,
  path: string,
  options: {
    method?: string;
    auth?: string;
    body?: unknown;
    form?: Record<string, string>;
    headers?: Record<string, string>;
  } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth) headers.authorization = options.auth;
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${url}${path}`, { method: options.method ?? (body ? 'POST' : 'GET'), headers, body });
  return { status: response.status, body: (await response.json()) as Json };
}

describe('logs', () => {
  let server: CauserieProcess;
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'causerie-logs-'));
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('are JSON lines with a request id, and never contain a password, key or token', async () => {
    server = runCauserie({
      env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: adminPassword, LOG_LEVEL: 'debug' },
    });
    const url = await server.url();
    const { key: firstKey } = await server.banner();
    const admin = basic('admin', adminPassword);
    const userPassword = 'user-secret-never-logged-2';
    const wrongPassword = 'wrong-secret-never-logged-3';
    const secrets: string[] = [
      adminPassword,
      userPassword,
      wrongPassword,
      admin,
      basic('logger', userPassword),
      basic('logger', wrongPassword),
    ];

    assert.equal(
      (await call(url, '/users', { body: { username: 'logger', password: userPassword }, auth: admin })).status,
      201,
    );
    const rejected = await call(url, '/users', { body: { username: 'logger2', password: userPassword, extra: true } });
    assert.equal(rejected.status, 400);
    const created = await call(url, '/api/v1/keys', { body: { name: 'logged?' }, auth: basic('logger', userPassword) });
    assert.equal(created.status, 201);
    secrets.push(created.body.key);
    assert.equal(
      (
        await call(url, '/api/v1/me', {
          auth: `Bearer ${created.body.key}`,
          headers: { 'x-request-id': 'log-check-1' },
        })
      ).status,
      200,
    );

    const tokens = await call(url, '/oauth/token', {
      form: { grant_type: 'password', username: 'logger', password: userPassword },
    });
    assert.equal(tokens.status, 200);
    secrets.push(tokens.body.access_token, tokens.body.refresh_token);
    assert.equal((await call(url, '/api/v1/me', { auth: `Bearer ${tokens.body.access_token}` })).status, 200);
    const refreshed = await call(url, '/oauth/token', {
      body: { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token },
    });
    assert.equal(refreshed.status, 200);
    secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
    // Failures are logged too; what was presented must not be.
    assert.equal(
      (
        await call(url, '/oauth/token', {
          form: { grant_type: 'password', username: 'logger', password: wrongPassword },
        })
      ).status,
      400,
    );
    assert.equal(
      (
        await call(url, '/oauth/token', {
          body: { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token },
        })
      ).status,
      400,
    );
    assert.equal((await call(url, '/api/v1/me', { auth: basic('logger', wrongPassword) })).status, 401);
    assert.equal((await call(url, '/api/v1/me', { auth: `Bearer ${created.body.key}x` })).status, 401);
    assert.equal(
      (await call(url, `/api/v1/keys/${created.body.id}`, { method: 'DELETE', auth: `Bearer ${created.body.key}` }))
        .status,
      200,
    );
    assert.equal((await call(url, '/api/v1/me', { auth: `Bearer ${created.body.key}` })).status, 401);

    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    // The first-start box prints the first admin key once, by design; everything else is logs.
    const output = server.stdout().replace(/┌[\s\S]*?┘\n/, '') + server.stderr();
    assert.ok(!output.includes(firstKey), 'the first key appears only in the banner');
    for (const secret of secrets)
      assert.ok(!output.includes(secret), `the logs contain a secret: ${secret.slice(0, 12)}…`);
    for (const secret of secrets.filter((s) => s.startsWith('API_'))) assert.ok(!output.includes(secret.slice(8)));

    const lines = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, Json>);
    const traced = lines.filter((line) => line.reqId === 'log-check-1');
    // At debug level a request's arrival is logged too; the line written when it ends names the
    // request and its outcome on its own (at info level it is the only one).
    assert.deepEqual(
      traced.map((line) => line.msg),
      ['incoming request', 'request completed'],
    );
    const completed = traced[1]!;
    assert.equal(completed.req.method, 'GET');
    assert.equal(completed.req.url, '/api/v1/me');
    assert.equal(completed.res.statusCode, 200);
    assert.equal(typeof completed.responseTime, 'number');
    assert.ok(lines.some((line) => line.msg === 'shutting down: finishing in-flight requests'));
  });
});

describe('logs on shutdown', () => {
  test('a shutdown right after a burst of requests loses no log line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-logs-burst-'));
    const server = runCauserie({ env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: adminPassword } });
    try {
      const url = await server.url();
      const requests = 300;
      for (let batch = 0; batch < requests; batch += 50) {
        const statuses = await Promise.all(
          Array.from(
            { length: 50 },
            async (_, i) =>
              (await call(url, '/api/v1/me', { headers: { 'x-request-id': `burst-${batch + i}` } })).status,
          ),
        );
        assert.ok(statuses.every((status) => status === 401));
      }
      // Stopped at once: lines still waiting for their write are written by the exit.
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
      const lines = server
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { reqId?: string; msg?: string });
      const burst = lines.filter((line) => line.reqId?.startsWith('burst-'));
      assert.equal(burst.filter((line) => line.msg === 'request completed').length, requests);
      assert.equal(burst.length, requests, 'one line per request');
      assert.ok(lines.some((line) => line.msg === 'shutting down: finishing in-flight requests'));
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the log of a failed request', () => {
  test('every line parses to one message, and the cause of the failure survives JSON parsing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-logs-'));
    const server = runCauserie({
      env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: adminPassword, CAUSERIE_MOCK_PROVIDER: 'true' },
    });
    try {
      const url = await server.url();
      const { key } = await server.banner();
      const failed = await call(url, '/v1/chat/completions', {
        auth: `Bearer ${key}`,
        headers: { 'x-request-id': 'failing-1' },
        body: { model: 'mock/echo', messages: [{ role: 'user', content: '[[status:503]]' }] },
      });
      assert.equal(failed.status, 502);
      await server.stop();
      const raw = server
        .stdout()
        .replace(/┌[\s\S]*?┘\n/, '')
        .trim()
        .split('\n');
      for (const line of raw) assert.ok((line.match(/"msg":/g) ?? []).length <= 1, `a line with two msg keys: ${line}`);
      const lines = raw
        .map((line) => JSON.parse(line) as Record<string, Json>)
        .filter((line) => line.reqId === 'failing-1');
      const failure = lines.find((line) => line.msg === 'request failed');
      assert.ok(failure, JSON.stringify(lines));
      assert.equal(failure.code, 'upstream_error');
      assert.equal(failure.detail, failed.body.error.message);
      assert.match(failure.detail, /mock/);
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the console', () => {
  test('the credentials box comes before the listening line and before any request line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-console-'));
    const server = runCauserie({ env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: adminPassword } });
    try {
      const url = await server.url();
      await server.banner();
      assert.equal((await call(url, '/api/v1/me', { auth: basic('admin', adminPassword) })).status, 200);
      await server.stop();
      const out = server.stdout();
      const box = out.indexOf('┌');
      assert.ok(box >= 0 && box < out.indexOf('Server listening at'), out);
      assert.ok(out.indexOf('Server listening at') < out.indexOf('request completed'), out);
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('CAUSERIE_LOG_FORMAT=pretty prints human-readable lines; without a terminal the default stays JSON', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-console-'));
    const server = runCauserie({
      env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: adminPassword, CAUSERIE_LOG_FORMAT: 'pretty' },
    });
    try {
      const url = await server.url();
      assert.equal(
        (
          await call(url, '/api/v1/me', {
            auth: basic('admin', adminPassword),
            headers: { 'x-request-id': 'pretty-1' },
          })
        ).status,
        200,
      );
      await server.stop();
      const lines = server
        .stdout()
        .replace(/┌[\s\S]*?┘\n/, '')
        .trim()
        .split('\n');
      for (const line of lines) assert.ok(!line.startsWith('{'), line);
      assert.match(lines.join('\n'), /^\d\d:\d\d:\d\d INFO {2}Server listening at http:\/\/127\.0\.0\.1:\d+$/m);
      assert.match(
        lines.join('\n'),
        /^\d\d:\d\d:\d\d INFO {2}\[pretty-1\] request completed GET \/api\/v1\/me → 200 [\d.]+ ms$/m,
      );
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('graceful shutdown', () => {
  test('on SIGTERM a request in flight finishes, new connections are refused, then the process exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-sigterm-'));
    const server = runCauserie({ env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_PASSWORD: adminPassword } });
    try {
      const url = new URL(await server.url());
      const body = JSON.stringify({ username: 'slow-upload', password: 'slow-upload-password' });
      const socket = net.connect(Number(url.port), '127.0.0.1');
      let answer = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
      const socketClosed = new Promise((resolve) => socket.on('close', resolve));
      await new Promise((resolve) => socket.on('connect', resolve));
      // Headers and half the body now; the rest only after SIGTERM.
      socket.write(
        `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.child.kill('SIGTERM');
      await server.waitForOutput(/shutting down: finishing in-flight requests/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(server.child.exitCode, null, 'the process waits for the request');

      const refused = await fetch(`${url.origin}/healthz`).then(
        () => 'answered',
        (error: Error & { cause?: { code?: string } }) => error.cause?.code,
      );
      assert.equal(refused, 'ECONNREFUSED');

      socket.write(body.slice(10));
      await socketClosed;
      assert.match(answer, /^HTTP\/1\.1 201 /);
      assert.match(answer, /"username":"slow-upload"/);
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
