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

test('an item set after the first is due its own delay later, even when the first is set again as it falls due', async () => {
  // As the SSE heartbeat and the presence beat use the queue: onDue sets the item again.
  const setAt = new Map<string, number>();
  const waited = new Map<string, number>();
  await new Promise<void>((resolve) => {
    const queue = new DeadlineQueue<string>(1000, (item) => {
      if (!waited.has(item)) waited.set(item, performance.now() - setAt.get(item)!);
      if (waited.size < 2) return queue.set(item);
      queue.delete('a');
      queue.delete('b');
      resolve();
    });
    setAt.set('a', performance.now());
    queue.set('a');
    setTimeout(() => {
      setAt.set('b', performance.now());
      queue.set('b');
    }, 500);
  });
  // Waiting for the first item's next beat would have made it 1,500 ms.
  assert.ok(waited.get('b')! < 1250, `b waited ${waited.get('b')!.toFixed(0)} ms for a 1,000 ms deadline`);
});

test('an item set again within a 64th of its delay keeps its deadline (and its place before later items)', async () => {
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    // A 640 ms delay: set again within 10 ms, the deadline stays.
    const queue = new DeadlineQueue<string>(640, (item) => {
      order.push(item);
      if (order.length === 2) resolve();
    });
    queue.set('a');
    queue.set('b');
    queue.set('a');
  });
  assert.deepEqual(order, ['a', 'b']);
});
