import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Pool } from '../../src/lib/undici.ts';
import { UpstreamBody } from '../../src/providers/openai-compatible/upstream-stream.ts';

describe('a streamed upstream body read by its own dispatch handler', () => {
  let server: http.Server;
  let pool: Pool;
  const closed: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      const size = Number(new URL(req.url!, 'http://x').searchParams.get('kib')) * 1024;
      res.on('close', () => closed.push(req.url!));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      // "é" is two bytes: chunks cut through characters, which must come out whole.
      const line = `${'é'.repeat(511)}\n`;
      let sent = 0;
      const step = () => {
        while (sent < size) {
          sent += Buffer.byteLength(line);
          if (!res.write(line)) return void res.once('drain', step);
        }
        res.end();
      };
      step();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await pool.close();
    server.close();
  });

  const open = (kib: number, signal = new AbortController().signal) => {
    let done = 0;
    const body = UpstreamBody.open(pool, { method: 'GET', path: `/?kib=${kib}` }, signal, () => done++);
    return { body, done: () => done };
  };

  test('a body far larger than what it holds for a slow reader arrives whole, in order, and ends once', async () => {
    const { body, done } = open(2048);
    const response = await body;
    assert.equal(response.statusCode, 200);
    let text = '';
    for await (const chunk of response) {
      text += chunk;
      // A slow reader: the upstream is paused meanwhile, and resumed.
      if (text.length % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const line = `${'é'.repeat(511)}\n`;
    const expected = line.repeat(Math.ceil((2048 * 1024) / Buffer.byteLength(line)));
    assert.equal(text.length, expected.length);
    assert.ok(text === expected, 'the text as sent');
    assert.equal(done(), 1);
  });

  test('once its signal aborts, a paused body yields nothing more of what it had received', async () => {
    const controller = new AbortController();
    const { body, done } = open(2048, controller.signal);
    const response = await body;
    const first = await response.next();
    assert.equal(first.done, false);
    // The reader is slow: the handler holds what arrived meanwhile (up to its pause threshold).
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort(new Error('stopped'));
    await assert.rejects(response.next(), /stopped/);
    assert.equal(done(), 1);
  });

  test('a reader that stops early aborts the request and frees its connection', async () => {
    const { body, done } = open(4096);
    for await (const _chunk of await body) break;
    assert.equal(done(), 1);
    for (let i = 0; i < 100 && !closed.includes('/?kib=4096'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(closed.includes('/?kib=4096'), 'the upstream saw the request end');
  });

  test('an aborted signal ends the body with its reason', async () => {
    const controller = new AbortController();
    const { body, done } = open(4096, controller.signal);
    const response = await body;
    const reason = new Error('caller left');
    await assert.rejects(
      (async () => {
        for await (const _chunk of response) controller.abort(reason);
      })(),
      (error) => error === reason,
    );
    assert.equal(done(), 1);
  });
});
