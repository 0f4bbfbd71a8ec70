import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import type { AppError } from '../../src/domain/errors.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { createTestDatabase, dialects, ManualClock } from '../helpers/server.ts';

for (const dialect of dialects) {
  describe(`embedded-mode restart on ${dialect}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    test("a restart keeps the day's usage: counters are rebuilt from the usage ledger", async () => {
      const database = await createTestDatabase(dialect);
      cleanups.push(() => database.drop());
      const config = loadConfig({
        HOST: '127.0.0.1',
        PORT: '0',
        CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
        ...database.env,
      });
      const clock = new ManualClock(Date.parse('2026-05-20T18:00:00.000Z'));
      const start = () => startServer(config, { clock, print: () => {}, logger: false });

      let server: RunningServer = await start();
      const services = server.services;
      const admin = { userId: 1, role: 'admin' as const };
      const { apiKey } = await services.apiKeys.create(admin, {
        name: 'quota',
        limits: { requests_per_day: 5, tokens_per_day: 1000 },
      });
      const actor = { userId: 1, role: 'admin' as const, apiKeyId: apiKey.id };
      const call = () =>
        services.limitsGate.admit({
          actor,
          model: 'mock/echo',
          reserveTokens: 100,
          reserveCostMicros: 0,
          stream: false,
        });

      // Three calls today, as the completions service records them: admitted, then one ledger row each.
      for (const tokens of [100, 80, 120]) {
        const admission = await call();
        await services.sql.db
          .insertInto('usage_records')
          .values({
            user_id: 1,
            api_key_id: apiKey.id,
            conversation_id: null,
            model: 'mock/echo',
            provider: 'mock',
            prompt_tokens: 20,
            completion_tokens: tokens - 20,
            cost_micros: 0,
            status: 'complete',
            created_at: new Date(clock.now()).toISOString(),
          })
          .execute();
        await admission.settle({ tokens, costMicros: 0 });
      }
      // Yesterday's call does not count today.
      await server.services.sql.db
        .insertInto('usage_records')
        .values({
          user_id: 1,
          api_key_id: apiKey.id,
          conversation_id: null,
          model: 'mock/echo',
          provider: 'mock',
          prompt_tokens: 500,
          completion_tokens: 0,
          cost_micros: 0,
          status: 'complete',
          created_at: '2026-05-19T23:59:59.999Z',
        })
        .execute();
      await server.close();

      server = await start();
      cleanups.push(() => server.close());
      const restarted = server.services;
      const overview = await restarted.limits.overview(actor);
      assert.deepEqual(
        overview.limits.map((l) => [l.scope, l.used, l.remaining]),
        [
          ['key.requests_per_day', 3, 2],
          ['key.tokens_per_day', 300, 700],
        ],
      );
      const again = () =>
        restarted.limitsGate.admit({
          actor,
          model: 'mock/echo',
          reserveTokens: 10,
          reserveCostMicros: 0,
          stream: false,
        });
      await (await again()).settle({ tokens: 10, costMicros: 0 });
      await (await again()).settle({ tokens: 10, costMicros: 0 });
      await assert.rejects(
        again(),
        (error: AppError) =>
          error.code === 'rate_limited' && error.headers['x-ratelimit-scope'] === 'key.requests_per_day',
      );

      // The next UTC day starts afresh.
      clock.set(Date.parse('2026-05-21T00:00:00.000Z'));
      await (await again()).settle({ tokens: 10, costMicros: 0 });
    });
  });
}
