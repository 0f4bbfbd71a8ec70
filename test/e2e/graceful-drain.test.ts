import { startScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCauserie } from '../helpers/platform.ts';
import { eventually, openStream } from './conversations-helpers.ts';

describe('graceful drain on SIGTERM', () => {
  test('readiness goes false first while requests are still served; a stream outliving the grace is stopped and kept; exit 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-drain-'));
    const env = {
      CAUSERIE_DATA_DIR: dataDir,
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
      CAUSERIE_MOCK_PROVIDER: 'true',
      // Long enough that the checks below happen inside the delay, even on a loaded machine.
      CAUSERIE_SHUTDOWN_DELAY_MS: '4000',
      CAUSERIE_SHUTDOWN_GRACE: '5',
    };
    const server = runCauserie({ env });
    let restarted: ReturnType<typeof runCauserie> | undefined;
    try {
      const url = await server.url();
      const { key } = await server.banner();
      // A stream of 100 words at 100 ms each: 10 s, longer than the grace period.
      const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
      const stream = await openStream(`${url}/v1/chat/stream`, {
        method: 'POST',
        auth: key,
        body: JSON.stringify({
          model: 'mock/echo',
          messages: [{ role: 'user', content: `[[reply:${words}]] [[chunk-delay:100]]` }],
        }),
      });
      assert.equal(stream.response.status, 200);
      const sessionId = stream.response.headers.get('x-session-id');
      await stream.readUntil((text) => text.includes('w0'));

      server.child.kill('SIGTERM');
      await server.waitForOutput(/shutting down: finishing in-flight requests/);
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'shutting down' });
      const served = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(served.status, 200, 'a request arriving while draining is still answered');
      assert.equal(served.headers.get('connection'), 'close', 'and its connection is not reused');
      await served.arrayBuffer();

      const text = await stream.readUntil(() => false);
      assert.ok(!text.includes('w99'), 'the stream was stopped at the end of the grace period');
      assert.deepEqual(await server.exited, { code: 0, signal: null });

      // Started again on the same data: the stopped reply is there, as far as it went, cancelled.
      restarted = runCauserie({ env: { ...env, CAUSERIE_SHUTDOWN_DELAY_MS: '0' } });
      const again = await restarted.url();
      const reply = await eventually(async () => {
        const response = await fetch(`${again}/api/v1/sessions/${sessionId}/history`, {
          headers: { authorization: `Bearer ${key}` },
        });
        const messages = (await response.json()) as Array<{ role: string; status: string; content: string }>;
        return messages.find((m) => m.role === 'assistant');
      });
      assert.equal(reply.status, 'cancelled');
      assert.match(reply.content, /^w0 w1/);
    } finally {
      await server.stop();
      await restarted?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('an answer still running after its client left (resume grace) is stopped at the end of the grace, and its reply and usage row are stored before the process exits', async () => {
    const upstream = await startScriptedUpstream();
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-drain-'));
    const env = {
      CAUSERIE_DATA_DIR: dataDir,
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
      // A model over HTTP, as in production: its stream is not ended by closing the process's providers.
      OPENAI_BASE_URL: upstream.baseUrl,
      OPENAI_API_KEY: 'test-upstream-key',
      CAUSERIE_STREAM_RESUME_GRACE_SECONDS: '60',
      CAUSERIE_SHUTDOWN_GRACE: '2',
    };
    const server = runCauserie({ env });
    let restarted: ReturnType<typeof runCauserie> | undefined;
    try {
      const url = await server.url();
      const { key } = await server.banner();
      const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
      const stream = await openStream(`${url}/v1/chat/stream`, {
        method: 'POST',
        auth: key,
        body: JSON.stringify({
          model: 'openai/echo',
          messages: [{ role: 'user', content: `[[reply:${words}]] [[chunk-delay:100]]` }],
        }),
      });
      const sessionId = stream.response.headers.get('x-session-id');
      await stream.readUntil((text) => text.includes('w1'));
      // The client leaves; the answer goes on for it to resume, with no socket left open.
      stream.abort();
      server.child.kill('SIGTERM');
      assert.deepEqual(await server.exited, { code: 0, signal: null });

      restarted = runCauserie({ env });
      const again = await restarted.url();
      const headers = { authorization: `Bearer ${key}` };
      const history = await fetch(`${again}/api/v1/sessions/${sessionId}/history`, { headers });
      const messages = (await history.json()) as Array<{ role: string; status: string; content: string }>;
      const reply = messages.find((m) => m.role === 'assistant')!;
      assert.equal(reply.status, 'cancelled', 'stored as stopped, not left streaming');
      assert.match(reply.content, /^w0 w1/);
      assert.ok(!reply.content.includes('w99'));
      const usage = await fetch(`${again}/api/v1/usage`, { headers });
      const report = (await usage.json()) as { total: { requests: number; completion_tokens: number } };
      assert.equal(report.total.requests, 1, 'the stopped answer was charged');
      assert.ok(report.total.completion_tokens > 0);
    } finally {
      await server.stop();
      await restarted?.stop();
      await upstream.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
