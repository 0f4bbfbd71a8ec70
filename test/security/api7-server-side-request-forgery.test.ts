import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { registrySpecs } from '../../src/domain/models/models.config.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * OWASP API7:2023, server-side request forgery. Every page web search fetches goes through the
 * guard tested in test/providers/web-fetch.test.ts (private, loopback, link-local and metadata
 * addresses in every notation, DNS answers, redirects, rebinding). Here: a model provider's base
 * URL (from the environment or the config file) that points at a link-local address or a cloud
 * metadata service is refused at start, unless CAUSERIE_FETCH_ALLOWLIST lists it; loopback and
 * private addresses (local model servers) stay allowed.
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
  'http://metadata.google.internal/computeMetadata/v1',
  'http://METADATA.GOOGLE.INTERNAL./v1',
];

describe('API7 SSRF: provider base URLs never point at link-local or metadata addresses by accident', () => {
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
