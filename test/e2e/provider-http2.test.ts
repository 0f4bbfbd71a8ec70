import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCauserie, type CauserieProcess } from '../helpers/platform.ts';
import { writeSelfSignedCertificate } from '../helpers/tls.ts';

/**
 * A provider reached over TLS is offered HTTP/2: concurrent answers share one connection instead of
 * a TLS handshake and a socket each; `http2: false` keeps HTTP/1.1. The provider is a real TLS
 * server on loopback (a certificate made for the test and trusted through NODE_EXTRA_CA_CERTS), so
 * the protocol is the one negotiated by ALPN, as with a hosted provider.
 */
describe('HTTP/2 to a TLS provider', () => {
  const concurrent = 12;
  let dir: string;
  let provider: http2.Http2SecureServer;
  let causerie: CauserieProcess;
  let url: string;
  let key: string;
  const seen: { model: string; version: string }[] = [];
  let tlsConnections = 0;
  // Answers are held until `concurrent` requests have arrived, so they are all in flight at once.
  let held: (() => void)[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'causerie-h2-'));
    const { keyFile, certFile } = writeSelfSignedCertificate(dir);
    provider = http2.createSecureServer({
      key: readFileSync(keyFile),
      cert: readFileSync(certFile),
      allowHTTP1: true,
    });
    provider.on('secureConnection', () => tlsConnections++);
    provider.on('request', (request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const { model } = JSON.parse(body) as { model: string };
        seen.push({ model, version: request.httpVersion });
        const answer = () => {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const text of ['Bonjour', ' !']) {
            const chunk = {
              id: 'c1',
              object: 'chat.completion.chunk',
              created: 1,
              model,
              choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
            };
            response.write(`data: ${JSON.stringify(chunk)}\n\n`);
          }
          const last = {
            id: 'c1',
            object: 'chat.completion.chunk',
            created: 1,
            model,
            choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
            usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
          };
          response.end(`data: ${JSON.stringify(last)}\n\ndata: [DONE]\n\n`);
        };
        held.push(answer);
        if (held.length === concurrent) {
          for (const release of held) release();
          held = [];
        }
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    const base = `https://localhost:${(provider.address() as AddressInfo).port}/v1`;
    const config = join(dir, 'causerie.json');
    writeFileSync(
      config,
      JSON.stringify({
        providers: {
          tls: { base_url: base, api_key_env: 'TLS_PROVIDER_KEY', discover: false },
          tls1: { base_url: base, api_key_env: 'TLS_PROVIDER_KEY', discover: false, http2: false },
        },
        models: {
          'h2-model': { provider: 'tls', upstream: 'up-h2' },
          'h1-model': { provider: 'tls1', upstream: 'up-h1' },
        },
      }),
    );
    causerie = runCauserie({
      env: {
        CAUSERIE_DATA_DIR: join(dir, 'data'),
        CAUSERIE_CONFIG: config,
        TLS_PROVIDER_KEY: 'sk-tls-provider',
        NODE_EXTRA_CA_CERTS: certFile,
      },
    });
    key = (await causerie.banner()).key;
    url = await causerie.url();
  });

  after(async () => {
    await causerie?.stop();
    provider?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const streamAll = (model: string) =>
    Promise.all(
      Array.from({ length: concurrent }, async () => {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'Salut' }] }),
        });
        assert.equal(response.status, 200);
        const text = await response.text();
        const contents = [...text.matchAll(/"content":"([^"]*)"/g)].map((match) => match[1]).join('');
        assert.equal(contents, 'Bonjour !');
        assert.match(text, /data: \[DONE\]/);
      }),
    );

  test(`${concurrent} concurrent streams to a provider that speaks HTTP/2 share one connection`, async () => {
    const connectionsBefore = tlsConnections;
    await streamAll('h2-model');
    const requests = seen.filter((request) => request.model === 'up-h2');
    assert.equal(requests.length, concurrent);
    assert.deepEqual(new Set(requests.map((request) => request.version)), new Set(['2.0']));
    assert.equal(tlsConnections - connectionsBefore, 1, 'one TLS handshake for all the answers');
  });

  test('with http2: false the same provider is spoken to in HTTP/1.1, a connection per answer in flight', async () => {
    const connectionsBefore = tlsConnections;
    await streamAll('h1-model');
    const requests = seen.filter((request) => request.model === 'up-h1');
    assert.equal(requests.length, concurrent);
    assert.deepEqual(new Set(requests.map((request) => request.version)), new Set(['1.1']));
    assert.equal(tlsConnections - connectionsBefore, concurrent);
  });
});
