import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, describe, test } from 'node:test';
import type { EventLog } from '../../src/domain/streams/event-log.ts';
import { MemoryEventLog } from '../../src/stores/kv/memory-event-log.ts';
import { RedisEventLog } from '../../src/stores/kv/redis-event-log.ts';
import { openRedis } from '../../src/stores/kv/redis.ts';
import { redisUrl } from '../helpers/server.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';

/** The two event logs keep one contract: the same test runs on each. */
const backends: Array<{ name: string; make(): { log: EventLog; cleanup(): Promise<void> } }> = [
  { name: 'memory', make: () => ({ log: new MemoryEventLog(), cleanup: async () => {} }) },
  {
    name: 'redis',
    make: () => {
      const prefix = uniquePrefix();
      return {
        log: new RedisEventLog(openRedis(redisUrl), { prefix }),
        cleanup: () => deleteRedisPrefix(prefix),
      };
    },
  },
];

const meta = { owner: 'user:1', lostFrames: ['data: {"type":"error"}', 'data: [DONE]'], conversationId: 7 };

for (const backend of backends) {
  describe(`event log (${backend.name})`, () => {
    const { log, cleanup } = backend.make();
    after(async () => {
      await log.close();
      await cleanup();
    });

    test('events come back in order after any position; the end is seen after the last one', async () => {
      log.open('a1', meta, 60_000);
      for (let seq = 1; seq <= 5; seq++) log.append('a1', seq, `data: ${seq}`);
      assert.deepEqual(await log.meta('a1'), meta);
      const all = await log.read('a1', 0, 0);
      assert.deepEqual(
        all.events.map((e) => [e.seq, e.frame]),
        [1, 2, 3, 4, 5].map((seq) => [seq, `data: ${seq}`]),
      );
      assert.equal(all.ended, false);
      assert.deepEqual(
        (await log.read('a1', 3, 0)).events.map((e) => e.seq),
        [4, 5],
      );
      await log.end('a1', 60_000);
      const tail = await log.read('a1', 4, 0);
      assert.deepEqual(
        tail.events.map((e) => e.seq),
        [5],
      );
      assert.equal(tail.ended, true);
      assert.deepEqual(await log.read('a1', 5, 0), { events: [], ended: true, trimmed: false });
    });

    test('a waiting reader gets the next event as soon as it is appended', async () => {
      log.open('a2', meta, 60_000);
      log.append('a2', 1, 'data: one');
      const waiting = log.read('a2', 1, 10_000);
      log.append('a2', 2, 'data: two');
      const read = await waiting;
      assert.deepEqual(
        read.events.map((e) => e.frame),
        ['data: two'],
      );
    });

    test('presence marks are kept per answer and per role; an unknown answer has no meta', async () => {
      log.open('a3', meta, 60_000);
      assert.equal(await log.isMarked('a3', 'generator'), false);
      log.mark('a3', 'generator', 60_000);
      assert.equal(await log.isMarked('a3', 'generator'), true);
      assert.equal(await log.isMarked('a3', 'reader'), false);
      assert.equal(await log.meta('unknown'), undefined);
    });
  });
}

test('the memory log forgets the oldest ended answers first once they exceed its memory budget', async () => {
  // Each answer counts its bookkeeping (about 1 KB with its meta) and each event its text plus 96
  // bytes: two of these fit in 3000 bytes, not three.
  const log = new MemoryEventLog({ endedBudgetBytes: 3000 });
  for (const id of ['old', 'mid', 'new']) {
    log.open(id, meta, 60_000);
    log.append(id, 1, 'x'.repeat(400));
    await log.end(id, 60_000);
  }
  assert.equal(await log.meta('old'), undefined, 'the oldest is forgotten');
  assert.deepEqual(await log.meta('mid'), meta);
  assert.deepEqual(await log.meta('new'), meta);
  assert.deepEqual(log.usage.ended, 2);
  await log.close();
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

test('ended answers cut off after a few events stay within the memory budget, ids and bookkeeping included', async () => {
  // Clients that hang up at once leave answers of two or three events: the heap they hold is mostly
  // the answer's own bookkeeping and its id, which the budget must count too.
  const budget = 2 * 1024 * 1024;
  const log = new MemoryEventLog({ endedBudgetBytes: budget });
  const start = heapAfterGc();
  for (let i = 0; i < 20_000; i++) {
    const id = randomUUID();
    log.open(id, { ...meta, leaseOwner: randomUUID() }, 60_000);
    log.append(id, 1, `data: {"delta":"${i}"}`);
    log.append(id, 2, 'data: [DONE]');
    await log.end(id, 60_000);
  }
  const held = heapAfterGc() - start;
  assert.ok(log.usage.endedBytes <= budget);
  assert.ok(log.usage.ended < 20_000, 'the oldest were forgotten');
  assert.ok(held < budget * 1.5, `the log holds ${(held / 1048576).toFixed(1)} MiB for a 2 MiB budget`);
  await log.close();
});

test('the memory log forgets an ended answer once its resumable period is over, and then holds nothing', async () => {
  const log = new MemoryEventLog();
  for (const id of ['a', 'b', 'c']) {
    log.open(id, meta, 60_000);
    log.append(id, 1, 'data: x');
  }
  await log.end('a', 20);
  await log.end('b', 40);
  await log.end('c', 400);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(await log.meta('a'), undefined);
  assert.equal(await log.meta('b'), undefined);
  assert.deepEqual((await log.read('c', 0, 0)).events.length, 1, 'one kept longer is still there');
  assert.deepEqual(log.usage.answers, 1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(log.usage, { answers: 0, ended: 0, endedBytes: 0, budgetBytes: log.usage.budgetBytes });
  await log.close();
});
