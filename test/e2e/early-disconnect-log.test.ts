import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCauserie } from '../helpers/platform.ts';
import { openStream } from './conversations-helpers.ts';

/**
 * A client that leaves before its first byte is not a server error: the server logs it at info
 * level with the request id, never an error-level "unhandled error".
 */
test('a client gone before the first byte is logged at info with its request id, not as an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'causerie-early-'));
  const server = runCauserie({
    env: {
      CAUSERIE_DATA_DIR: dir,
      CAUSERIE_MOCK_PROVIDER: 'true',
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
      // Fastify's `incoming request` line (debug level) tells when the server has the request.
      LOG_LEVEL: 'debug',
    },
  });
  t.after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = await server.url();
  const key = (await server.waitForOutput(/API_[A-Z0-9_]+/))[0];
  const session = (await (
    await fetch(`${url}/api/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model":"mock/echo"}',
    })
  ).json()) as { id: number };
  const path = `${url}/api/v1/sessions/${session.id}/models/completions`;
  // A first completion holds the session: its model never finishes.
  const holder = await openStream(path, {
    method: 'POST',
    auth: key,
    body: JSON.stringify({ prompt: 'hold [[hang]]', stream: true }),
  });
  assert.equal(holder.response.status, 200);
  // The second waits for its turn; its client leaves once the server has received it.
  const controller = new AbortController();
  const second = fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'early-leaver-1' },
    body: JSON.stringify({ prompt: 'never mind', stream: true }),
    signal: controller.signal,
  }).catch(() => undefined);
  await server.waitForOutput(/"reqId":"early-leaver-1"[^\n]*incoming request/);
  controller.abort();
  await second;
  const line = (
    await server.waitForOutput(/\{[^\n]*"reqId":"early-leaver-1"[^\n]*client left before the answer[^\n]*\}/)
  )[0];
  assert.equal(JSON.parse(line).level, 30, 'info level');
  assert.equal(line.split('"reqId"').length, 2, 'the request id once (JSON with a key twice is ambiguous)');
  holder.abort();
  assert.doesNotMatch(server.stdout(), /unhandled error/);
});
