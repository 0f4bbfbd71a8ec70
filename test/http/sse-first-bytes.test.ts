import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { writeModelsConfig } from '../e2e/conversations-helpers.ts';

/**
 * A stream's first bytes leave in the turn of the event loop that produced them. Under a burst the
 * loop's check phase (setImmediate) comes only after every pending read and connection has been
 * handled: a stream that waited for it got its first byte only once the whole burst had gone through.
 */
describe('SSE first bytes', () => {
  let upstream: ScriptedUpstream;
  let server: TestServer;
  let models: ReturnType<typeof writeModelsConfig>;

  before(async () => {
    upstream = await startScriptedUpstream({ reply: () => 'hello there' });
    models = writeModelsConfig();
    server = await startTestServer({
      env: {
        OPENAI_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: 'test-upstream-key',
        CAUSERIE_CONFIG: models.path,
        CAUSERIE_MODELS_REFRESH: '0',
      },
    });
  });
  after(async () => {
    await server.stop();
    await upstream.close();
    models.remove();
  });

  test('the headers and first events reach the socket before the event loop moves on to its check phase', async () => {
    // When the stream writes its headers, a check-phase callback is queued ahead of anything the
    // stream itself could queue there; by the time it runs, the response must already be on the socket.
    let atCheckPhase: { written: number; held: number } | undefined;
    let checked!: () => void;
    const checkedOnce = new Promise<void>((resolve) => (checked = resolve));
    server.app.server.on('request', (_request, response: ServerResponse) => {
      const writeHead = response.writeHead.bind(response) as (...args: unknown[]) => ServerResponse;
      response.writeHead = ((...args: unknown[]) => {
        const socket = response.socket as Socket;
        setImmediate(() => {
          // What a corked socket holds is counted in bytesWritten too: `held` tells it apart.
          atCheckPhase = { written: socket.bytesWritten, held: socket.writableCorked };
          checked();
        });
        return writeHead(...args);
      }) as typeof response.writeHead;
    });
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
      body: JSON.stringify({ model: 'gpt-4', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const text = await response.text();
    await checkedOnce;
    assert.equal(response.status, 200);
    assert.match(text, /hello/);
    assert.match(text, /data: \[DONE\]/);
    assert.ok(atCheckPhase!.written > 0, 'the stream had written nothing when the check phase came');
    assert.equal(atCheckPhase!.held, 0, 'the stream still held its first bytes when the check phase came');
  });
});
