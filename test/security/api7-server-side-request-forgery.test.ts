import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { registrySpecs } from '../../src/domain/models/models.config.ts';
import { DownloadError, downloadModel, resolveModelSource } from '../../src/providers/local/model-download.ts';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { OpenAiCompatibleProvider } from '../../src/providers/openai-compatible/openai-compatible-provider.ts';
import { createSearchProvider } from '../../src/providers/search/create-search-provider.ts';
import { SearxngSearch } from '../../src/providers/search/searxng.ts';
import { guardedLookup, outboundPolicy } from '../../src/providers/web/connect-guard.ts';
import { signUp, type SignedUpUser } from '../helpers/platform.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import { startDnsServer, type TestDnsServer } from './dns-server.ts';

/**
 * OWASP API7:2023, server-side request forgery. Every page web search fetches goes through the
 * guard tested in test/providers/web-fetch.test.ts (private, loopback, link-local and metadata
 * addresses in every notation, DNS answers, redirects, rebinding). Here, Causerie's own
 * connections (model providers, search engines, model downloads): a base URL written at a
 * link-local address or a cloud metadata service is refused at start, and every connection is
 * checked again on the address it actually goes to, so a name that resolves there, or starts to
 * (DNS rebinding), is refused too, unless CAUSERIE_FETCH_ALLOWLIST lists it; loopback and private
 * addresses (local model servers) stay allowed. Names resolve through a DNS server on loopback
 * (CAUSERIE_DNS_SERVERS), so any name can point anywhere without touching /etc/hosts.
 */
const env = (extra: Record<string, string>) => ({ CAUSERIE_DATA_DIR: tmpdir(), CAUSERIE_AUTO_PULL: 'false', ...extra });
const specsFor = (extra: Record<string, string>) => registrySpecs(loadConfig(env(extra)));

const metadataUrls = [
  'http://169.254.169.254/latest/meta-data',
  'http://169.254.170.2/v1',
  'http://[fe80::1]/v1',
  'http://[::ffff:169.254.169.254]/v1',
  'http://[fd00:ec2::254]/v1',
  'http://100.100.100.200/v1',
  'http://[64:ff9b::6464:64c8]/v1',
  'http://[2002:a9fe:a9fe::1]/v1',
  'http://metadata.google.internal/computeMetadata/v1',
  'http://METADATA.GOOGLE.INTERNAL./v1',
];

describe('API7 SSRF: base URLs written at link-local or metadata addresses stop the start', () => {
  test('OPENAI_BASE_URL, MISTRAL_BASE_URL and OLLAMA_BASE_URL at a metadata address are refused, naming the provider', () => {
    for (const url of metadataUrls) {
      for (const variable of ['OPENAI_BASE_URL', 'OLLAMA_BASE_URL']) {
        assert.throws(
          () => specsFor({ [variable]: url }),
          /provider "(openai|ollama)": base URL .* is (link-local|a cloud metadata)/,
          `${variable}=${url}`,
        );
      }
    }
    assert.throws(
      () => specsFor({ MISTRAL_API_KEY: 'k', MISTRAL_BASE_URL: 'http://169.254.169.254/v1' }),
      /provider "mistral"/,
    );
  });

  test('a config-file provider at a metadata address is refused too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'causerie-ssrf-'));
    try {
      const path = join(dir, 'causerie.json');
      writeFileSync(path, JSON.stringify({ providers: { evil: { base_url: 'http://169.254.169.254/v1' } } }));
      assert.throws(() => specsFor({ CAUSERIE_CONFIG: path }), /provider "evil"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('loopback, private and public base URLs pass; an allowlisted metadata address passes', () => {
    for (const url of [
      'http://127.0.0.1:8000/v1',
      'http://10.0.0.5/v1',
      'http://[::1]:11434',
      'https://api.openai.com/v1',
    ])
      assert.doesNotThrow(() => specsFor({ OPENAI_BASE_URL: url }), url);
    assert.doesNotThrow(() =>
      specsFor({ OPENAI_BASE_URL: 'http://169.254.10.1/v1', CAUSERIE_FETCH_ALLOWLIST: '169.254.10.0/24' }),
    );
    assert.doesNotThrow(() =>
      specsFor({
        OPENAI_BASE_URL: 'http://metadata.google.internal/v1',
        CAUSERIE_FETCH_ALLOWLIST: 'metadata.google.internal',
      }),
    );
  });

  test('a server configured so does not start, and says why', async () => {
    await assert.rejects(
      startTestServer({ env: { OPENAI_BASE_URL: 'http://169.254.169.254/v1', OPENAI_API_KEY: 'sk-test' } }),
      /base URL http:\/\/169\.254\.169\.254\/v1 is link-local/,
    );
  });
});

const connectTimeouts = { connectMs: 2_000, firstByteMs: 5_000, idleMs: 5_000 };
/** The message a refusal must carry: the host named, the address it resolved to kept out. */
const refusal = (host: string) =>
  new RegExp(
    `connections to ${host.replace(/[.[\]]/g, '\\$&')} are refused: it is or resolves to a link-local or cloud metadata address`,
  );

describe('API7 SSRF: every outgoing connection is checked on the address it goes to', () => {
  let dns: TestDnsServer;
  let files: Server;
  let port: number;
  before(async () => {
    dns = await startDnsServer({
      'metadata-alias.test': ['169.254.169.254'],
      'v6-metadata.test': ['fe80::1', 'fd00:ec2::254'],
      'alibaba.test': ['100.100.100.200'],
      'nat64.test': ['64:ff9b::6464:64c8'],
      'files.test': ['127.0.0.1'],
    });
    files = createServer((request, response) => {
      if (request.url === '/redirect/model.gguf')
        response.writeHead(302, { location: `http://metadata-alias.test:${port}/model.gguf` }).end();
      else response.writeHead(200, { 'content-length': '4' }).end('GGUF');
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    port = (files.address() as { port: number }).port;
  });
  after(async () => {
    await dns.close();
    await new Promise((resolve) => files.close(resolve));
  });
  const policy = () => outboundPolicy(loadConfig(env({ CAUSERIE_DNS_SERVERS: dns.address })));

  test('a provider at an address the URL parser would not show as written (decimal, hex, IPv4-mapped, NAT64, 6to4) is refused when connecting', async () => {
    for (const host of [
      '2852039166',
      '0xa9.0xfe.0xa9.0xfe',
      '[::ffff:169.254.169.254]',
      '[fd00:ec2::254]',
      '100.100.100.200',
      '[64:ff9b::100.100.100.200]',
      '[64:ff9b:1::a9fe:a9fe]',
      '[2002:6464:64c8::1]',
    ]) {
      const provider = new OpenAiCompatibleProvider({
        id: 'direct',
        baseUrl: `http://${host}:${port}/v1`,
        timeouts: connectTimeouts,
        retries: 2,
      });
      try {
        await assert.rejects(provider.listModels({ signal: AbortSignal.timeout(10_000) }), (error: Error) => {
          assert.match(error.message, /^Provider "direct" was not called: connections to .* are refused/, host);
          return true;
        });
      } finally {
        await provider.close();
      }
    }
  });

  test('a provider whose name resolves to a link-local or metadata address (IPv4 or IPv6) is refused, naming the host only', async () => {
    for (const host of ['metadata-alias.test', 'v6-metadata.test', 'alibaba.test', 'nat64.test']) {
      const provider = new OpenAiCompatibleProvider({
        id: 'named',
        baseUrl: `http://${host}:${port}/v1`,
        timeouts: connectTimeouts,
        retries: 0,
        outbound: policy(),
      });
      try {
        await assert.rejects(provider.listModels({ signal: AbortSignal.timeout(10_000) }), (error: Error) => {
          assert.match(error.message, refusal(host));
          assert.doesNotMatch(error.message, /169\.254|fe80|fd00|100\.100/);
          return true;
        });
      } finally {
        await provider.close();
      }
    }
  });

  test('a name the allowlist lists may resolve there; other names resolving to a loopback server connect', async () => {
    const lookup = guardedLookup(outboundPolicy({ fetchAllowlist: 'metadata-alias.test', dnsServers: dns.address }));
    const resolved = await new Promise((resolve, reject) =>
      lookup('metadata-alias.test', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
    );
    assert.deepEqual(resolved, [{ address: '169.254.169.254', family: 4 }]);
    const viaCidr = guardedLookup(outboundPolicy({ fetchAllowlist: '169.254.169.254/32', dnsServers: dns.address }));
    const cidrResolved = await new Promise((resolve, reject) =>
      viaCidr('metadata-alias.test', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
    );
    assert.deepEqual(cidrResolved, [{ address: '169.254.169.254', family: 4 }]);
  });

  test('the search engine (SearXNG) at such a name is refused when searching; written as an address, at start', async () => {
    const searxng = new SearxngSearch({
      baseUrl: `http://metadata-alias.test:${port}`,
      timeoutMs: 5_000,
      outbound: policy(),
    });
    await assert.rejects(searxng.search('x', { count: 3, signal: AbortSignal.timeout(10_000) }), (error: Error) => {
      assert.match(error.message, refusal('metadata-alias.test'));
      assert.doesNotMatch(error.message, /169\.254/);
      return true;
    });
    assert.throws(
      () => createSearchProvider(loadConfig(env({ CAUSERIE_SEARXNG_URL: 'http://169.254.169.254:8080' }))),
      /CAUSERIE_SEARXNG_URL: http:\/\/169\.254\.169\.254:8080 is link-local/,
    );
    assert.throws(
      () =>
        createSearchProvider(
          loadConfig(env({ BRAVE_SEARCH_API_KEY: 'k', BRAVE_SEARCH_BASE_URL: 'http://metadata.google.internal' })),
        ),
      /BRAVE_SEARCH_BASE_URL: .* is a cloud metadata service/,
    );
  });

  test('a model download at such a name, or redirected to one, is refused; from a loopback mirror it downloads', async () => {
    const modelsDir = mkdtempSync(join(tmpdir(), 'causerie-ssrf-models-'));
    try {
      for (const url of [
        `http://metadata-alias.test:${port}/model.gguf`,
        `http://files.test:${port}/redirect/model.gguf`,
      ]) {
        await assert.rejects(
          downloadModel({ source: resolveModelSource(url), modelsDir, outbound: policy() }),
          (error: Error) => error instanceof DownloadError && refusal('metadata-alias.test').test(error.message),
          url,
        );
      }
      const done = await downloadModel({
        source: resolveModelSource(`http://files.test:${port}/model.gguf`),
        modelsDir,
        outbound: policy(),
      });
      assert.equal(done.bytes, 4);
    } finally {
      rmSync(modelsDir, { recursive: true, force: true });
    }
  });
});

for (const dialect of dialects) {
  describe(`API7 SSRF: a provider's name resolving to a metadata address, or starting to, is refused to the caller (${dialect})`, () => {
    let dns: TestDnsServer;
    let upstream: ScriptedUpstream;
    let server: TestServer;
    let user: SignedUpUser;
    let port: number;
    const dir = mkdtempSync(join(tmpdir(), 'causerie-ssrf-'));
    before(async () => {
      dns = await startDnsServer({ 'models.internal.test': ['127.0.0.1'], 'metadata-alias.test': ['169.254.169.254'] });
      upstream = await startScriptedUpstream();
      port = Number(new URL(upstream.url).port);
      const config = join(dir, 'causerie.json');
      writeFileSync(
        config,
        JSON.stringify({
          providers: { aliased: { base_url: `http://metadata-alias.test:${port}/v1` } },
          models: {
            'gpt-4': { provider: 'openai', upstream: 'upstream-gpt-4' },
            'aliased-model': { provider: 'aliased', upstream: 'upstream-aliased' },
          },
        }),
      );
      server = await startTestServer({
        dialect,
        env: {
          OPENAI_BASE_URL: `http://models.internal.test:${port}/v1`,
          OPENAI_API_KEY: 'test-upstream-key',
          CAUSERIE_CONFIG: config,
          CAUSERIE_MODELS_REFRESH: '0',
          CAUSERIE_DNS_SERVERS: dns.address,
          CAUSERIE_PROVIDER_CONNECT_TIMEOUT_MS: '2000',
        },
      });
      user = await signUp(server, 'ssrf-user');
    });
    after(async () => {
      await server?.stop();
      await upstream.close();
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const complete = (model: string) =>
      server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model, messages: [{ role: 'user', content: 'hello' }] },
        auth: user.basic,
      });

    test('a user calling a model whose provider name resolves to a metadata address gets a refusal naming the host, not the address', async () => {
      // The operator's log line has the address the name resolved to.
      const logged: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        logged.push(String(chunk));
        return write(chunk as string, ...(rest as []));
      }) as typeof process.stderr.write;
      const answer = await complete('aliased-model').finally(() => (process.stderr.write = write));
      const line = logged.find((text) => text.includes('metadata-alias.test'));
      assert.match(line ?? '', /"refused_address":"169\.254\.169\.254"/, logged.join(''));
      assert.equal(answer.status, 502, answer.text);
      assert.match(answer.body.error.message, refusal('metadata-alias.test'));
      assert.doesNotMatch(answer.text, /169\.254|\n\s+at |node_modules|\/src\//);
      assert.ok(!upstream.chatRequests().some((r) => JSON.stringify(r.body).includes('upstream-aliased')));
    });

    test('a provider name that starts resolving to a metadata address (rebinding) is refused on its next connection', async () => {
      assert.equal((await complete('gpt-4')).status, 200, 'the name resolves to the loopback upstream');
      dns.records.set('models.internal.test', ['169.254.169.254']);
      // The kept-alive connection goes with the upstream, so the next call opens one (and resolves again).
      await upstream.close();
      const rebound = await complete('gpt-4');
      assert.equal(rebound.status, 502, rebound.text);
      assert.match(rebound.body.error.message, refusal('models.internal.test'));
      assert.doesNotMatch(rebound.text, /169\.254/);
      dns.records.set('models.internal.test', ['127.0.0.1']);
      upstream = await startScriptedUpstream({ port });
      assert.equal((await complete('gpt-4')).status, 200, 'back on loopback, it connects again');
    });
  });
}
