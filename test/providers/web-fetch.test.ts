import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { blockedReason, parseAllowlist } from '../../src/providers/web/address-guard.ts';
import { guardedGet, vet, type FetchPolicy, type Resolver } from '../../src/providers/web/guarded-fetch.ts';
import { htmlToText, readPage } from '../../src/providers/web/page-reader.ts';
import { serveHostilePage } from '../fixtures/hostile-pages.ts';

const closed: FetchPolicy = { allowPrivate: false, allowlist: [], maxRedirects: 3 };
const open: FetchPolicy = { allowPrivate: false, allowlist: parseAllowlist('127.0.0.1/32'), maxRedirects: 3 };
const never = new AbortController().signal;

async function refused(url: string, policy: FetchPolicy = closed, pattern = /refused|only http/) {
  await assert.rejects(guardedGet(url, policy, { signal: never, connectTimeoutMs: 2000 }), (error: Error) => {
    assert.match(error.message, pattern);
    return true;
  });
}

describe('SSRF guard', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  before(async () => {
    server = createServer((request, response) => {
      hits++;
      if (request.url === '/to-loopback') {
        response.writeHead(302, { location: `http://127.0.0.1:${port}/secret` }).end();
      } else if (request.url === '/to-localhost') {
        response.writeHead(301, { location: `http://localhost:${port}/secret` }).end();
      } else if (request.url?.startsWith('/loop')) {
        response.writeHead(302, { location: `/loop${Number(request.url.slice(5) || 0) + 1}` }).end();
      } else {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('the secret');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('refuses loopback, private, link-local and metadata IP literals in every notation, without connecting', async () => {
    const before = hits;
    for (const host of [
      '127.0.0.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '0x7f000001',
      '2130706433',
      '0177.0.0.1',
      '127.1',
      '169.254.169.254',
      '10.0.0.1',
      '[64:ff9b::7f00:1]',
      '[::]',
      '0.0.0.0',
      '100.64.0.1',
      '224.0.0.1',
      '[fd00:ec2::254]',
      '[fe80::1]',
      '192.168.1.1',
      '172.16.0.1',
      '[2002:7f00:1::]',
    ]) {
      await refused(`http://${host}:${port}/secret`);
    }
    assert.equal(hits, before, 'the test server was never reached');
  });

  test('classifies addresses: public ones pass, embedded IPv4 decides for mapped and NAT64 forms', () => {
    assert.equal(blockedReason('93.184.216.34'), undefined);
    assert.equal(blockedReason('2606:4700::1111'), undefined);
    assert.equal(blockedReason('::ffff:8.8.8.8'), undefined);
    assert.equal(blockedReason('64:ff9b::808:808'), undefined);
    assert.equal(blockedReason('::ffff:7f00:1'), 'loopback');
    assert.equal(blockedReason('169.254.169.254'), 'link-local (cloud metadata)');
  });

  test('only http and https', async () => {
    await refused('file:///etc/passwd');
    await refused('ftp://93.184.216.34/');
    await refused('gopher://93.184.216.34/');
  });

  test('refuses a name that resolves to a private address (every resolved address is checked)', async () => {
    await refused(`http://localhost:${port}/secret`);
    const resolver: Resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ];
    await refused(`http://mixed.example:${port}/`, { ...closed, resolver });
  });

  test('a public-looking name that redirects to a private address is refused at the redirect', async () => {
    // The fake public name resolves to the test server and is allowlisted by name; 127.0.0.1 itself is not.
    const resolver: Resolver = async (host) =>
      host === 'public.example' ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    const policy: FetchPolicy = { ...closed, allowlist: parseAllowlist('public.example'), resolver };
    const first = await guardedGet(`http://public.example:${port}/plain`, policy, {
      signal: never,
      connectTimeoutMs: 2000,
    });
    assert.equal(await first.body.text(), 'the secret', 'the allowlisted name itself is fetched');
    await first.close();
    await refused(`http://public.example:${port}/to-loopback`, policy);
    await refused(`http://public.example:${port}/to-localhost`, policy);
  });

  test('connects to the vetted address, not to what the name says later (no DNS rebinding)', async () => {
    let calls = 0;
    // First answer is checked and pinned; a later answer (rebinding to the metadata address) is never asked for.
    const resolver: Resolver = async () =>
      calls++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }];
    const policy: FetchPolicy = { ...closed, allowlist: parseAllowlist('rebind.example'), resolver };
    const response = await guardedGet(`http://rebind.example:${port}/plain`, policy, {
      signal: never,
      connectTimeoutMs: 2000,
    });
    assert.equal(await response.body.text(), 'the secret');
    await response.close();
    assert.equal(calls, 1);
  });

  test('caps redirects', async () => {
    await refused(`http://127.0.0.1:${port}/loop0`, open, /more than 3 redirects/);
  });

  test('the allowlist admits the listed range and nothing else', async () => {
    const response = await guardedGet(`http://127.0.0.1:${port}/plain`, open, {
      signal: never,
      connectTimeoutMs: 2000,
    });
    assert.equal(await response.body.text(), 'the secret');
    await response.close();
    await assert.rejects(vet(new URL('http://10.0.0.1/'), open), /private/);
    await vet(new URL('http://10.0.0.1/'), { ...closed, allowPrivate: true });
  });
});

describe('page reader', () => {
  let server: Server;
  let base: string;
  const limits = { timeoutMs: 1500, maxBytes: 64 * 1024 };
  before(async () => {
    server = createServer((request, response) => {
      if (request.url === '/article') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(
          '<html><head><title>Tides</title><script>var hidden=1</script></head><body><nav>menu</nav><article><h1>Tides</h1><p>The moon pulls the ocean and makes tides twice a day.</p></article></body></html>',
        );
      } else if (serveHostilePage(request.url!, response)) {
        // /endless, /huge, /binary
      } else if (request.url === '/silent') {
        // Never answers: the page's time limit ends the wait.
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('reduces HTML to its readable text', async () => {
    const page = await readPage(`${base}/article`, open, limits, never);
    assert.ok(page.ok);
    assert.match(page.text, /The moon pulls the ocean/);
    assert.doesNotMatch(page.text, /hidden=1/);
    assert.equal(page.title, 'Tides');
  });

  test('a page that never ends is cut at the size limit', async () => {
    const page = await readPage(`${base}/endless`, open, limits, never);
    assert.ok(page.ok);
    assert.equal(page.truncated, true);
    assert.match(page.text, /^forever and ever/);
    assert.ok(page.text.length <= limits.maxBytes, `${page.text.length} characters`);
  });

  test('a 50 MB page is cut at the size limit', async () => {
    const page = await readPage(`${base}/huge`, open, limits, never);
    assert.ok(page.ok);
    assert.equal(page.truncated, true);
    assert.ok(page.text.length <= limits.maxBytes);
  });

  test('a binary page is skipped, a silent one gives up at its time limit, a refused one says why', async () => {
    assert.deepEqual(await readPage(`${base}/binary`, open, limits, never), {
      ok: false,
      url: `${base}/binary`,
      reason: 'not text (application/octet-stream)',
    });
    const silent = await readPage(`${base}/silent`, open, { ...limits, timeoutMs: 300 }, never);
    assert.deepEqual(silent, { ok: false, url: `${base}/silent`, reason: 'no answer within 300 ms' });
    const refusedPage = await readPage(`${base}/article`, closed, limits, never);
    assert.equal(refusedPage.ok, false);
    assert.match((refusedPage as { reason: string }).reason, /loopback/);
  });

  test('a page without an article falls back to its visible text', async () => {
    assert.equal((await htmlToText('<p>short</p><style>x{}</style>')).text, 'short');
  });
});
