import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, test } from 'node:test';
import { FuzzWorld } from './fuzz/world.ts';
import { execute, fuzzSeed, operationsOf, planRun } from './fuzz/run.ts';

/**
 * Schema-driven fuzzing: every route and method of the OpenAPI document gets requests generated
 * from its own schemas, valid and mutated, with every kind of credential. A route added later is
 * fuzzed the day it lands. The run is seeded: `FUZZ_SEED=<seed> npm test` replays it
 * (FUZZ_REQUESTS scales it).
 */
const total = Number(process.env.FUZZ_REQUESTS ?? 10_500);
const share = { sqlite: 2 / 3, postgres: 1 / 3 } as const;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const heapUsed = () => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

console.log(`fuzz seed ${fuzzSeed} (replay: FUZZ_SEED=${fuzzSeed} npm test)`);

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`fuzzing every route from the OpenAPI document (${dialect}, seed ${fuzzSeed})`, () => {
    test('no 5xx, no undocumented status, errors in the documented shape, no secret echoed; healthy after', async (t) => {
      const world = await FuzzWorld.start(dialect);
      t.after(() => world.stop());
      const document = (await world.server.api('/api/v1/openapi.json', { auth: null })).body;
      const operations = operationsOf(document);
      const plans = planRun(
        operations,
        Math.round(total * share[dialect]),
        fuzzSeed + (dialect === 'postgres' ? 1 : 0),
      );
      const heapBefore = heapUsed();
      const result = await execute(world, plans);
      t.diagnostic(
        `${result.sent} requests to ${operations.length} operations; statuses ${JSON.stringify(result.byStatus)}`,
      );
      const shown = result.failures
        .slice(0, 25)
        .map((f) => `#${f.index} ${f.request}\n  → ${f.status}: ${f.problems.join('; ')}\n  ${f.excerpt}`)
        .join('\n');
      assert.equal(
        result.failures.length,
        0,
        `${result.failures.length} bad answers (replay: FUZZ_SEED=${fuzzSeed}):\n${shown}`,
      );

      const health = await world.server.api('/healthz', { auth: null });
      assert.equal(health.status, 200);
      await world.restore();
      assert.equal((await world.server.api('/api/v1/me', { auth: world.user.basic })).status, 200);
      // Bounded: what the run leaves behind once garbage is collected is far below what it sent.
      const grown = heapUsed() - heapBefore;
      assert.ok(grown < 100 * 1024 * 1024, `heap grew by ${Math.round(grown / 1048576)} MiB`);
    });
  });
}
