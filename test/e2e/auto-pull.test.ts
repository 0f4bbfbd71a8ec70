import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeTinyLlamaGguf } from '../fixtures/gguf/build-tiny-llama.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { eventually } from './models-helpers.ts';

const fileName = 'qwen2.5-0.5b-instruct-q4_k_m.gguf';
const modelId = 'local/qwen2.5-0.5b-instruct';

/** A loopback file server standing in for Hugging Face: sends half the file, then the rest once released. */
async function startFileServer(file: Buffer, mode: 'held' | 'missing') {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server: Server = createServer(async (request, response) => {
    if (mode === 'missing' || request.url !== `/${fileName}`) {
      response.writeHead(404).end('Not Found');
      return;
    }
    response.writeHead(200, { 'content-length': String(file.length), 'content-type': 'application/octet-stream' });
    const half = Math.floor(file.length / 2);
    response.write(file.subarray(0, half));
    await released;
    response.end(file.subarray(half));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${fileName}`;
  return { url, release, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const modelView = async (server: TestServer) =>
  (await server.api('/api/v1/models')).body.find((m: { id: string }) => m.id === modelId);

describe('first start with nothing configured: the default local model downloads in the background', () => {
  let gguf: Buffer;
  const dirs: string[] = [];
  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'causerie-gguf-'));
    dirs.push(dir);
    gguf = await readFile(await writeTinyLlamaGguf(dir, fileName));
  });
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  const start = async (url: string) => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'causerie-models-'));
    dirs.push(modelsDir);
    return startTestServer({
      env: {
        CAUSERIE_AUTO_PULL: 'true',
        CAUSERIE_AUTO_PULL_URI: url,
        CAUSERIE_MODELS_DIR: modelsDir,
        CAUSERIE_LOCAL_THREADS: '1',
      },
    });
  };

  test('progress shows in GET /api/v1/models, then the model answers a streamed chat', async () => {
    const files = await startFileServer(gguf, 'held');
    const server = await start(files.url);
    try {
      const downloading = await eventually(
        async () => {
          const model = await modelView(server);
          return model?.status === 'downloading' && model.progress > 0 ? model : undefined;
        },
        { what: 'the download to be under way' },
      );
      assert.equal(downloading.available, false);
      assert.ok(downloading.progress > 0 && downloading.progress < 1, String(downloading.progress));
      files.release();
      const ready = await eventually(
        async () => {
          const model = await modelView(server);
          return model?.status === 'available' ? model : undefined;
        },
        { what: 'the model to be available', timeoutMs: 30_000 },
      ).catch(async (error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await modelView(server))}`);
      });
      assert.equal(ready.progress, undefined);
      const response = await fetch(`${server.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 }),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      const text = await response.text();
      assert.match(text, /^data: /m);
      assert.match(text, /data: \[DONE\]\n\n$/);
    } finally {
      files.release();
      await server.stop();
      await files.close();
    }
  });

  test('a failed download leaves a clear reason and the server up', async () => {
    const files = await startFileServer(gguf, 'missing');
    const server = await start(files.url);
    try {
      const failed = await eventually(
        async () => {
          const model = await modelView(server);
          return model?.status === 'not_downloaded' && /download failed/.test(model.reason) ? model : undefined;
        },
        { what: 'the failure to show' },
      );
      assert.match(failed.reason, /404/);
      assert.match(failed.reason, /npm run models:pull/);
      assert.equal((await server.api('/healthz')).status, 200);
    } finally {
      await server.stop();
      await files.close();
    }
  });

  test('CAUSERIE_AUTO_PULL=false downloads nothing', async () => {
    const files = await startFileServer(gguf, 'held');
    const modelsDir = await mkdtemp(join(tmpdir(), 'causerie-models-'));
    dirs.push(modelsDir);
    const server = await startTestServer({
      env: { CAUSERIE_AUTO_PULL: 'false', CAUSERIE_AUTO_PULL_URI: files.url, CAUSERIE_MODELS_DIR: modelsDir },
    });
    try {
      assert.equal((await modelView(server)).status, 'not_downloaded');
    } finally {
      await server.stop();
      files.release();
      await files.close();
    }
  });
});
