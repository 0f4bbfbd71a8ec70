import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { writeModelsConfig } from '../e2e/conversations-helpers.ts';

/** A 16 KiB word, many times: an answer far larger than every socket buffer on its way. */
const bigWord = 'x'.repeat(16_384);
const words = 300;

/**
 * A client that stops reading a stream must not make the server hold the rest of the answer in
 * memory: once the response's buffer is over its high-water mark, no event is written until it
 * drains (the model's stream is not read meanwhile, so the upstream is slowed down by TCP).
 */
describe('SSE backpressure', () => {
  let upstream: ScriptedUpstream;
  let server: TestServer;
  let models: ReturnType<typeof writeModelsConfig>;

  before(async () => {
    upstream = await startScriptedUpstream({ reply: () => Array.from({ length: words }, () => bigWord).join(' ') });
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

  test('a reader that stops reading: no event is written while the response buffer is full', async () => {
    // Watches every write of the streamed response, from inside the server.
    let writesWhileFull = 0;
    let maxBuffered = 0;
    let congested!: () => void;
    const full = new Promise<void>((resolve) => (congested = resolve));
    server.app.server.on('request', (_request, response: ServerResponse) => {
      const write = response.write.bind(response) as (chunk: string) => boolean;
      response.write = ((chunk: string) => {
        // Keep-alive comments are tiny and keep proxies from timing out; events are what must wait.
        if (response.writableNeedDrain && !chunk.startsWith(':')) writesWhileFull++;
        const accepted = write(chunk);
        maxBuffered = Math.max(maxBuffered, response.writableLength);
        if (!accepted) congested();
        return accepted;
      }) as typeof response.write;
    });
    const body = JSON.stringify({ model: 'gpt-4', stream: true, messages: [{ role: 'user', content: 'Long' }] });
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.adminKey}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // The client reads nothing until the server's buffer is full...
    socket.pause();
    await full;
    // ...then everything, to the end of the answer.
    let received = 0;
    let tail = '';
    const done = new Promise<void>((resolve) =>
      socket.on('data', (data: Buffer) => {
        received += data.length;
        tail = (tail + data.toString('latin1')).slice(-64);
        if (tail.includes('data: [DONE]')) resolve();
      }),
    );
    socket.resume();
    await done;
    socket.destroy();
    assert.equal(writesWhileFull, 0, 'events were written into a full buffer');
    assert.ok(maxBuffered < 2 * 16_384 + 64 * 1024, `the server buffered ${maxBuffered} bytes`);
    assert.ok(received > words * bigWord.length, 'the whole answer arrived');
  });
});
