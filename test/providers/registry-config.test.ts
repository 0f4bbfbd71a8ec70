import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { InvalidConfigError, loadConfig } from '../../src/config.ts';
import { registrySpecs } from '../../src/domain/models/models.config.ts';

describe('model registry configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'causerie-registry-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const withFile = (content: unknown, env: Record<string, string> = {}) => {
    const path = join(dir, `config-${files++}.json`);
    writeFileSync(path, JSON.stringify(content));
    return loadConfig({ CAUSERIE_CONFIG: path, ...env });
  };

  test('nothing configured: no provider; the models folder defaults to <data dir>/models', () => {
    const config = loadConfig({ CAUSERIE_DATA_DIR: '/srv/causerie' });
    assert.deepEqual(registrySpecs(config), { providers: [], models: [] });
    assert.equal(config.modelsDir, '/srv/causerie/models');
    assert.equal(config.localThreads, 1);
  });

  test('each variable registers its provider with no other step', () => {
    const { providers } = registrySpecs(
      loadConfig({ OPENAI_API_KEY: 'sk-1', MISTRAL_API_KEY: 'm-1', OLLAMA_BASE_URL: 'http://127.0.0.1:11434' }),
    );
    const byId = Object.fromEntries(providers.map((p) => [p.id, p]));
    assert.deepEqual(Object.keys(byId).sort(), ['mistral', 'ollama', 'openai']);
    assert.equal(byId.openai!.baseUrl, 'https://api.openai.com/v1');
    assert.equal(byId.mistral!.baseUrl, 'https://api.mistral.ai/v1');
    assert.equal(byId.mistral!.streamUsage, false);
    assert.equal(byId.mistral!.seedField, 'random_seed');
    assert.equal(byId.ollama!.baseUrl, 'http://127.0.0.1:11434/v1');
    assert.ok(providers.every((p) => p.discover));
    const pointed = registrySpecs(loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1' })).providers[0]!;
    assert.equal(pointed.baseUrl, 'http://127.0.0.1:8000/v1');
    assert.equal(pointed.apiKey, undefined);
  });

  test('the config file declares providers (key from the variable it names) and maps public ids', () => {
    const config = withFile(
      {
        providers: {
          groq: { base_url: 'https://api.groq.com/openai/v1', api_key_env: 'GROQ_API_KEY', headers: { 'x-team': 'a' } },
        },
        models: {
          fast: {
            provider: 'groq',
            upstream: 'llama-3.1-8b-instant',
            context_window: 131072,
            prices: { input: 0.05, output: 0.08 },
            capabilities: ['chat', 'tools'],
          },
          'groq/other': { provider: 'groq' },
        },
      },
      { GROQ_API_KEY: 'gsk-secret' },
    );
    const { providers, models } = registrySpecs(config);
    assert.equal(providers[0]!.apiKey, 'gsk-secret');
    assert.equal(providers[0]!.discover, false, 'listed models turn discovery off');
    assert.deepEqual(models[0], {
      id: 'fast',
      provider: 'groq',
      upstream: 'llama-3.1-8b-instant',
      contextWindow: 131072,
      prices: { input: 0.05, output: 0.08, currency: 'USD' },
      capabilities: ['chat', 'tools'],
    });
    assert.equal(models[1]!.upstream, 'other');
    assert.doesNotMatch(JSON.stringify(config.file), /gsk-secret/);
  });

  test('keys never come from the file', () => {
    assert.throws(
      () => withFile({ OPENAI_API_KEY: 'sk-in-file' }),
      (error: Error) =>
        error instanceof InvalidConfigError && /OPENAI_API_KEY may only come from the environment/.test(error.message),
    );
    assert.throws(
      () => withFile({ providers: { x: { base_url: 'http://h/v1', api_key: 'k' } } }),
      /keys come from the environment only/,
    );
  });

  test('a provider whose key variable is unset is marked, not dropped', () => {
    const { providers } = registrySpecs(
      withFile({ providers: { x: { base_url: 'http://h/v1', api_key_env: 'X_KEY' } } }),
    );
    assert.equal(providers[0]!.keyMissing, true);
  });

  test('invalid entries are refused when the configuration loads, naming the file and their path', () => {
    const bad = (content: unknown, pattern: RegExp) =>
      assert.throws(
        () => withFile(content),
        (e: Error) =>
          e instanceof InvalidConfigError &&
          /^CAUSERIE_CONFIG \(.*\.json\): /.test(e.message) &&
          pattern.test(e.message),
        String(pattern),
      );
    bad({ providers: { x: {} } }, /providers\.x\.base_url must be a non-empty string/);
    bad({ providers: { Bad: { base_url: 'http://h' } } }, /providers\.Bad: a provider id/);
    bad({ models: { m: { provider: 'nowhere' } } }, /models\["m"\]\.provider: no provider "nowhere"/);
    bad(
      { models: { m: { provider: 'openai', prices: { input: -1 } } } },
      /models\["m"\]\.prices\.input must be a number/,
    );
    bad({ providers: { local: { base_url: 'http://h' } } }, /built in/);
    bad({ providers: { x: { base_url: 'ftp://h' } } }, /providers\.x\.base_url must be an http\(s\) URL/);
    bad({ providers: { x: { base_url: 'http://h', seed_field: 'nonce' } } }, /providers\.x\.seed_field must be "seed"/);
    bad({ providers: { x: { base_url: 'http://h', colour: 'red' } } }, /providers\.x\.colour is not a known field/);
    bad(
      { models: { 'openai/m': { provider: 'openai', context_window: 'big' } } },
      /models\["openai\/m"\]\.context_window must be number/,
    );
    bad({ models: { m: {} } }, /models\["m"\]\.provider is required/);
    bad({ models: [] }, /models must be an object/);
    bad([], /must hold a JSON object/);
    bad(
      { providers: { x: { base_url: 'http://h', max_connections: 2.5 } } },
      /providers\.x\.max_connections must be a whole number ≥ 1/,
    );
    bad({ providers: { x: { base_url: 'http://h', http2: 'yes' } } }, /providers\.x\.http2 must be true or false/);
    bad(
      { providers: { x: { base_url: 'http://h', max_connections: 0 } } },
      /providers\.x\.max_connections must be a whole number ≥ 1/,
    );
  });

  test('max_connections caps a provider; without it there is no cap', () => {
    const { providers } = registrySpecs(
      withFile({
        providers: { capped: { base_url: 'http://h/v1', max_connections: 64 }, open: { base_url: 'http://o/v1' } },
      }),
    );
    assert.equal(providers.find((p) => p.id === 'capped')!.maxConnections, 64);
    assert.equal(providers.find((p) => p.id === 'open')!.maxConnections, undefined);
  });
});
