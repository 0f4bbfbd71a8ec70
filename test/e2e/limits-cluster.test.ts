import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCauserie, type CauserieProcess } from '../helpers/platform.ts';
import { createPostgresDatabase, redisUrl } from '../helpers/server.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';
import { chat, longReply, streamChat } from '../limits/http-helpers.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * Two Causerie processes (bin/causerie.js start) share one PostgreSQL and one Redis, as two nodes
 * behind a load balancer would. Requests are spread over both: the limits hold for the pair.
 */
describe('two processes sharing PostgreSQL and Redis', () => {
  const prefix = uniquePrefix();
  const dataDirs: string[] = [];
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const nodes: CauserieProcess[] = [];
  let urls: string[] = [];
  let adminKey = '';

  const api = async (path: string, method: string, body: unknown, auth = adminKey) => {
    const response = await fetch(`${urls[0]}${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  before(async () => {
    database = await createPostgresDatabase();
    const env = (name: string) => {
      const dataDir = mkdtempSync(join(tmpdir(), `causerie-${name}-`));
      dataDirs.push(dataDir);
      return {
        CAUSERIE_DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl,
        CAUSERIE_REDIS_PREFIX: prefix,
        CAUSERIE_MOCK_PROVIDER: 'true',
        CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
        CAUSERIE_TOKEN_SECRET: 'a-token-secret-shared-by-both-nodes-of-the-test',
      };
    };
    // The first node creates the schema and the admin (its banner shows the key), then the second joins.
    const first = runCauserie({ env: env('node-a') });
    nodes.push(first);
    adminKey = (await first.waitForOutput(/API_[A-Z0-9_]+/))[0];
    const second = runCauserie({ env: env('node-b') });
    nodes.push(second);
    urls = [await first.url(), await second.url()];
  });

  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await database?.drop();
    await deleteRedisPrefix(prefix);
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  const newKey = async (limits: Record<string, number>) => {
    const created = await api('/api/v1/keys', 'POST', { name: 'shared', limits });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { key: string; id: number };
  };

  test('a key limited to 50 requests a day lets exactly 50 of 200 concurrent requests through, over both nodes', async () => {
    const key = await newKey({ requests_per_day: 50 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => chat(urls[i % 2]!, key.key, `request ${i}`, { max_tokens: 4 })),
    );
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429).length;
    assert.equal(ok, 50, `statuses: ${[...new Set(results.map((r) => r.status))].join(', ')}`);
    assert.equal(limited, 150);
    // Either node tells the same story.
    for (const url of urls) {
      const response = await fetch(`${url}/api/v1/keys/${key.id}`, {
        headers: { authorization: `Bearer ${adminKey}` },
      });
      assert.deepEqual(((await response.json()) as Json).limits_remaining, { requests_per_day: 0 });
    }
  });

  test('a token budget is never exceeded by concurrent streams spread over both nodes', async () => {
    const budget = 300;
    const key = await newKey({ tokens_per_day: budget });
    const content = `[[reply:${longReply}]] [[chunk-delay:5]]`;
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => streamChat(urls[i % 2]!, key.key, content, { max_tokens: 20 })),
    );
    const admitted = results.filter((r) => r.status === 200).length;
    assert.ok(admitted >= 1, 'a request that fits is allowed');
    assert.ok(results.every((r) => r.status === 200 || r.headers.get('x-ratelimit-scope') === 'key.tokens_per_day'));
    const usage = await fetch(`${urls[1]}/api/v1/usage?group_by=key&all=true`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    const rows = ((await usage.json()) as Json).rows as Array<{
      api_key_id: number;
      requests: number;
      total_tokens: number;
    }>;
    const row = rows.find((r) => r.api_key_id === key.id)!;
    assert.equal(row.requests, admitted);
    assert.ok(row.total_tokens <= budget, `the key spent ${row.total_tokens} tokens of ${budget}`);
  });
});
