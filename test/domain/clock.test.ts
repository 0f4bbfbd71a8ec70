import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoAt } from '../../src/domain/clock.ts';

test('isoAt writes what Date writes, across seconds, before 1970 and beyond year 9999', () => {
  const cases = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, -1, -999, -1000, -1001, 1.7, -1.7, 1_732_950_000_123.9];
  cases.push(253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_000, 8.64e15, -8.64e15, Date.now());
  for (let i = 0; i < 2000; i++) cases.push(1_700_000_000_000 + i * 7);
  for (const ms of cases) assert.equal(isoAt(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => isoAt(Number.NaN), RangeError);
});
