import assert from 'node:assert/strict';
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
  const log = new MemoryEventLog({ endedBudgetBytes: 300 });
  // Each event counts its 40 characters plus 96 bytes of bookkeeping: two fit in 300, not three.
  for (const id of ['old', 'mid', 'new']) {
    log.open(id, meta, 60_000);
    log.append(id, 1, 'x'.repeat(40));
    await log.end(id, 60_000);
  }
  assert.equal(await log.meta('old'), undefined, 'the oldest is forgotten');
  assert.deepEqual(await log.meta('mid'), meta);
  assert.deepEqual(await log.meta('new'), meta);
  await log.close();
});
