import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pullModel, type Terminal } from '../../src/cli/models-pull.ts';
import { resolveModelSource } from '../../src/providers/local/model-download.ts';

const run = promisify(execFile);
const repository = resolve(import.meta.dirname, '../..');

/** Captures what the command writes; `tty` makes stderr look like a terminal. */
function captureTerminal(tty = false): Terminal & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text), isTTY: tty },
    out: () => out,
    err: () => err,
  };
}

describe('models pull: source URIs', () => {
  test('maps Hugging Face URIs and links to their download URL', () => {
    assert.deepEqual(resolveModelSource('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf'), {
      url: 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf',
      fileName: 'qwen2.5-0.5b-instruct-q4_k_m.gguf',
      host: 'huggingface.co',
    });
    assert.equal(
      resolveModelSource('hf:user/repo@v2/sub/dir/model.gguf').url,
      'https://huggingface.co/user/repo/resolve/v2/sub/dir/model.gguf',
    );
    assert.equal(resolveModelSource('hf:user/repo@v2/sub/dir/model.gguf').fileName, 'model.gguf');
    assert.equal(
      resolveModelSource('https://huggingface.co/user/repo/blob/main/model.gguf').url,
      'https://huggingface.co/user/repo/resolve/main/model.gguf',
    );
    assert.deepEqual(resolveModelSource('http://127.0.0.1:8080/files/My%20Model.gguf'), {
      url: 'http://127.0.0.1:8080/files/My%20Model.gguf',
      fileName: 'My Model.gguf',
      host: '127.0.0.1:8080',
    });
    assert.throws(() => resolveModelSource('qwen.gguf'), /neither a Hugging Face URI/);
    assert.throws(() => resolveModelSource('ftp://example.com/model.gguf'), /only hf:, https: and http:/);
    assert.throws(() => resolveModelSource('https://example.com/'), /file name/);
  });
});

describe('models pull against a file server on loopback', () => {
  const model = randomBytes(3_000_000);
  let server: Server;
  let base: string;
  let modelsDir: string;
  const requests: { url: string; range: string | undefined }[] = [];
  /** How the next request for /model.gguf is answered. */
  let behaviour: 'normal' | 'cut-halfway' | 'ignore-range' = 'normal';

  const serve = (request: IncomingMessage, response: import('node:http').ServerResponse) => {
    requests.push({ url: request.url ?? '', range: request.headers.range });
    if (request.url !== '/model.gguf') return response.writeHead(404, 'Not Found').end();
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range && behaviour !== 'ignore-range') {
      const start = Number(range[1]);
      if (start >= model.length) return response.writeHead(416, { 'content-range': `bytes */${model.length}` }).end();
      response.writeHead(206, {
        'content-length': model.length - start,
        'content-range': `bytes ${start}-${model.length - 1}/${model.length}`,
      });
      return response.end(model.subarray(start));
    }
    response.writeHead(200, { 'content-length': model.length });
    if (behaviour === 'cut-halfway') {
      // The connection drops mid-transfer, as when a laptop loses its Wi-Fi.
      response.write(model.subarray(0, model.length / 2), () => response.socket?.destroy());
      return;
    }
    response.end(model);
  };

  before(async () => {
    server = createServer(serve);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'causerie-pull-'));
    requests.length = 0;
    behaviour = 'normal';
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  test('downloads into the models folder with progress lines, and names the model id', async () => {
    const terminal = captureTerminal();
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal }), 0);
    assert.deepEqual(await readFile(join(modelsDir, 'model.gguf')), model);
    assert.equal(existsSync(join(modelsDir, 'model.gguf.part')), false);
    assert.match(terminal.err(), /^Downloading model\.gguf from 127\.0\.0\.1:\d+ into /);
    assert.match(terminal.err(), /model\.gguf: 100% \(3\.0 MB of 3\.0 MB, [\d.]+ MB\/s\)\n$/);
    assert.ok(
      terminal
        .err()
        .split('\n')
        .filter((line) => /model\.gguf: \d+%/.test(line)).length >= 2,
      terminal.err(),
    );
    assert.match(terminal.out(), /Saved model\.gguf \(3\.0 MB\) in .*: it is served as model "local\/model"/);
    await rm(modelsDir, { recursive: true });
  });

  test('draws a bar redrawn in place when stderr is a terminal', async () => {
    const terminal = captureTerminal(true);
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal }), 0);
    assert.match(terminal.err(), /\r\[#{24}\] 100% {2}3\.0 MB of 3\.0 MB {2}[\d.]+ MB\/s/);
    assert.doesNotMatch(terminal.err(), /model\.gguf: \d+%/);
    await rm(modelsDir, { recursive: true });
  });

  test('an interrupted download resumes where it stopped, with an HTTP Range request', async () => {
    behaviour = 'cut-halfway';
    const first = captureTerminal();
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal: first }), 1);
    assert.match(
      first.err(),
      /\ncauserie: the download stopped after [\d.]+ MB .*run the same command again to resume\n$/,
    );
    const kept = (await stat(join(modelsDir, 'model.gguf.part'))).size;
    assert.ok(kept > 0 && kept < model.length, `kept ${kept} bytes`);
    assert.equal(existsSync(join(modelsDir, 'model.gguf')), false);

    behaviour = 'normal';
    const second = captureTerminal();
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal: second }), 0);
    assert.deepEqual(
      requests.map((request) => request.range),
      [undefined, `bytes=${kept}-`],
    );
    assert.match(second.err(), /resuming after [\d.]+ MB/);
    assert.deepEqual(await readFile(join(modelsDir, 'model.gguf')), model);
    assert.equal(existsSync(join(modelsDir, 'model.gguf.part')), false);
    await rm(modelsDir, { recursive: true });
  });

  test('a server that ignores Range sends the whole file again, and the result is still exact', async () => {
    await writeFile(join(modelsDir, 'model.gguf.part'), Buffer.from('stale bytes from another file'));
    behaviour = 'ignore-range';
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal: captureTerminal() }), 0);
    assert.deepEqual(await readFile(join(modelsDir, 'model.gguf')), model);
    await rm(modelsDir, { recursive: true });
  });

  test('a complete .part file is finished without downloading again', async () => {
    await writeFile(join(modelsDir, 'model.gguf.part'), model);
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal: captureTerminal() }), 0);
    assert.deepEqual(await readFile(join(modelsDir, 'model.gguf')), model);
    await rm(modelsDir, { recursive: true });
  });

  test('a model already in the folder is not downloaded again', async () => {
    await writeFile(join(modelsDir, 'model.gguf'), model);
    const terminal = captureTerminal();
    assert.equal(await pullModel({ uri: `${base}/model.gguf`, modelsDir, terminal }), 0);
    assert.equal(requests.length, 0);
    assert.match(terminal.out(), /model\.gguf is already in .* \(3\.0 MB\); delete it to download it again/);
    await rm(modelsDir, { recursive: true });
  });

  test('an HTTP error is one line and exit code 1', async () => {
    const terminal = captureTerminal();
    assert.equal(await pullModel({ uri: `${base}/absent.gguf`, modelsDir, terminal }), 1);
    assert.equal(
      terminal.err(),
      `causerie: 127.0.0.1:${new URL(base).port} answered 404 Not Found for ${base}/absent.gguf\n`,
    );
    assert.equal(existsSync(join(modelsDir, 'absent.gguf')), false);
    await rm(modelsDir, { recursive: true });
  });

  test('without an argument it pulls the default local model from Hugging Face; offline, it says so in one line', async () => {
    const asked: string[] = [];
    // What fetch throws when DNS has no answer (no network): the test machine has no internet.
    const offlineFetch = (async (url: string | URL | Request) => {
      asked.push(String(url));
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo ENOTFOUND huggingface.co'), { code: 'ENOTFOUND' }),
      });
    }) as typeof fetch;
    const terminal = captureTerminal();
    assert.equal(await pullModel({ modelsDir, terminal, fetch: offlineFetch }), 1);
    assert.deepEqual(asked, [
      'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf',
    ]);
    assert.equal(
      terminal.err(),
      'causerie: cannot reach huggingface.co (no network?): getaddrinfo ENOTFOUND huggingface.co\n',
    );
    assert.equal(terminal.out(), '');
    await rm(modelsDir, { recursive: true });
  });

  test('the real command: `causerie models pull <url>` saves into CAUSERIE_MODELS_DIR; an unreachable host is one line', async () => {
    const env = { ...process.env, CAUSERIE_MODELS_DIR: modelsDir, CAUSERIE_DATA_DIR: modelsDir };
    const done = await run(process.execPath, ['bin/causerie.js', 'models', 'pull', `${base}/model.gguf`], {
      cwd: repository,
      env,
    });
    assert.match(done.stdout, /Saved model\.gguf \(3\.0 MB\)/);
    assert.deepEqual(await readFile(join(modelsDir, 'model.gguf')), model);

    // A port nothing listens on: the connection is refused, as with no network.
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ready) => closed.close(ready));
    const failed = await run(
      process.execPath,
      ['bin/causerie.js', 'models', 'pull', `http://127.0.0.1:${port}/other.gguf`],
      { cwd: repository, env },
    ).then(
      () => assert.fail('expected exit code 1'),
      (error: { code: number; stderr: string; stdout: string }) => error,
    );
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      new RegExp(`^causerie: cannot reach 127\\.0\\.0\\.1:${port} \\(no network\\?\\): .*ECONNREFUSED.*\\n$`),
    );
    assert.equal(failed.stderr.split('\n').length, 2, 'one line');
    await rm(modelsDir, { recursive: true });
  });
});
