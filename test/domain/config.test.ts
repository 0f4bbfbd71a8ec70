import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fields, InvalidConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  test('with nothing set: embedded mode on 127.0.0.1:3001, SQLite under ./data', () => {
    const config = loadConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 3001);
    assert.equal(config.dataDir, './data');
    assert.equal(config.mode, 'embedded');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.allowSignup, true);
    assert.equal(config.accessTokenSeconds, 900);
    assert.equal(config.bodyLimitBytes, 1_048_576);
    assert.ok(Object.isFrozen(config));
  });

  test('every field has an environment variable, a description and a parser', () => {
    const names = new Set<string>();
    for (const [key, field] of Object.entries(fields)) {
      assert.match(field.env, /^[A-Z][A-Z0-9_]+$/, key);
      assert.ok(!names.has(field.env), `${field.env} is used twice`);
      names.add(field.env);
      assert.ok(
        field.description.length > 10 && field.description.endsWith('.'),
        `${field.env}: a one-line description ending with a period`,
      );
      assert.equal(typeof field.parse, 'function');
    }
  });

  test('DATABASE_URL switches to cluster mode; HOST and PORT override the address', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://causerie@db:5432/causerie/', HOST: '0.0.0.0', PORT: '8080' });
    assert.equal(config.mode, 'cluster');
    assert.equal(config.databaseUrl, 'postgres://causerie@db:5432/causerie');
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8080);
  });

  test('booleans take true/false, 1/0, yes/no, on/off; an empty variable is unset', () => {
    for (const [raw, value] of [
      ['false', false],
      ['0', false],
      ['No', false],
      ['off', false],
      ['TRUE', true],
      ['1', true],
      ['yes', true],
      ['on', true],
    ] as const) {
      assert.equal(loadConfig({ CAUSERIE_ALLOW_SIGNUP: raw }).allowSignup, value, raw);
    }
    assert.equal(loadConfig({ PORT: '' }).port, 3001);
  });

  test('a bad value throws one message naming the variable, hiding secrets', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PORT: 'abc' }, 'PORT must be an integer between 0 and 65535 (got "abc")'],
      [{ PORT: '3001.5' }, 'PORT must be an integer between 0 and 65535 (got "3001.5")'],
      [
        { CAUSERIE_ACCESS_TOKEN_TTL: '5' },
        'CAUSERIE_ACCESS_TOKEN_TTL must be an integer between 10 and 86400 (got "5")',
      ],
      [{ CAUSERIE_BODY_LIMIT: '10' }, 'CAUSERIE_BODY_LIMIT must be an integer between 1024 and 104857600 (got "10")'],
      [
        { LOG_LEVEL: 'verbose' },
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")',
      ],
      [{ CAUSERIE_ALLOW_SIGNUP: 'sometimes' }, 'CAUSERIE_ALLOW_SIGNUP must be true or false (got "sometimes")'],
      [{ DATABASE_URL: 'not a url with password hunter2' }, 'DATABASE_URL must be a URL (got (hidden))'],
      [
        { DATABASE_URL: 'mysql://root:hunter2@db/causerie' },
        'DATABASE_URL must be a postgres: or postgresql: URL (got (hidden))',
      ],
      [{ REDIS_URL: 'http://cache' }, 'REDIS_URL must be a redis: or rediss: URL (got (hidden))'],
      [{ CAUSERIE_TOKEN_SECRET: 'hunter2' }, 'CAUSERIE_TOKEN_SECRET must be at least 32 characters (got (hidden))'],
      [
        { CAUSERIE_TRUST_PROXY: '127.0.0.1,proxy.local' },
        'CAUSERIE_TRUST_PROXY has an entry that is neither an address nor a CIDR range: proxy.local (got "127.0.0.1,proxy.local")',
      ],
      [
        { CAUSERIE_TRUST_PROXY: '10.0.0.0/33' },
        'CAUSERIE_TRUST_PROXY has an entry that is neither an address nor a CIDR range: 10.0.0.0/33 (got "10.0.0.0/33")',
      ],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => loadConfig(env),
        (error: Error) => {
          assert.ok(error instanceof InvalidConfigError);
          assert.equal(error.message, message);
          assert.ok(!error.message.includes('hunter2'));
          return true;
        },
      );
    }
  });

  test('CAUSERIE_CONFIG reads a JSON file of the same variables; the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'causerie-config-'));
    try {
      const file = join(dir, 'causerie.json');
      writeFileSync(file, JSON.stringify({ PORT: 8080, LOG_LEVEL: 'warn', CAUSERIE_ALLOW_SIGNUP: false }));
      const config = loadConfig({ CAUSERIE_CONFIG: file, LOG_LEVEL: 'error' });
      assert.equal(config.port, 8080);
      assert.equal(config.allowSignup, false);
      assert.equal(config.logLevel, 'error');
      writeFileSync(file, JSON.stringify({ PORT: 'eighty' }));
      assert.throws(
        () => loadConfig({ CAUSERIE_CONFIG: file }),
        (error: Error) => error instanceof InvalidConfigError && error.message.startsWith('PORT must be an integer'),
      );
      writeFileSync(file, '{ not json');
      assert.throws(
        () => loadConfig({ CAUSERIE_CONFIG: file }),
        (error: Error) =>
          error instanceof InvalidConfigError && error.message.startsWith(`CAUSERIE_CONFIG: cannot read ${file}`),
      );
      assert.throws(() => loadConfig({ CAUSERIE_CONFIG: join(dir, 'missing.json') }), /CAUSERIE_CONFIG: cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('CAUSERIE_DNS_SERVERS takes addresses with optional ports, and names a bad entry', () => {
    const servers = '127.0.0.1:5353, [::1]:53, 10.0.0.2';
    assert.equal(loadConfig({ CAUSERIE_DNS_SERVERS: servers }).dnsServers, servers);
    for (const bad of ['dns.google', '1.1.1.1:0', '1.1.1.1:65536', '::1:53x']) {
      assert.throws(
        () => loadConfig({ CAUSERIE_DNS_SERVERS: bad }),
        (error: Error) =>
          error instanceof InvalidConfigError &&
          error.message.startsWith('CAUSERIE_DNS_SERVERS has an entry that is not an IP address') &&
          error.message.includes(bad),
      );
    }
  });
});
