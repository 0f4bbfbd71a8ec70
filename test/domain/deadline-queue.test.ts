import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineQueue } from '../../src/domain/streams/deadline-queue.ts';

test('each item is due its delay after it was last set, in that order; a deleted one never is', async () => {
  const due: Array<{ item: string; at: number }> = [];
  const started = performance.now();
  let last: () => void = () => {};
  const queue = new DeadlineQueue<string>(60, (item) => {
    due.push({ item, at: performance.now() - started });
    if (item === 'a') last();
  });
  queue.set('a');
  queue.set('b');
  queue.set('gone');
  queue.set('a'); // set again: due after b
  queue.delete('gone');
  await new Promise<void>((resolve) => {
    last = resolve;
  });
  assert.deepEqual(
    due.map((d) => d.item),
    ['b', 'a'],
  );
  assert.ok(due[0]!.at >= 59, 'not due before its delay');
  assert.equal(queue.size, 0);
});

test('an item set again when it is due comes back after another delay, as a repeating timer', async () => {
  let beats = 0;
  await new Promise<void>((resolve) => {
    const queue = new DeadlineQueue<string>(20, (item) => {
      beats++;
      if (beats < 3) queue.set(item);
      else resolve();
    });
    queue.set('x');
  });
  assert.equal(beats, 3);
});
