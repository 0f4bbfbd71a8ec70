import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bm25Ranker } from '../../src/domain/documents/chunk-ranker.ts';
import { chunkPages } from '../../src/domain/documents/chunker.ts';

test('chunks follow paragraphs, stay near the target size, overlap, and remember their pages', () => {
  const line = (n: number) => `Line ${n} of the report says something worth forty characters.`;
  const pages = [
    Array.from({ length: 20 }, (_, i) => line(i)).join('\n'),
    Array.from({ length: 20 }, (_, i) => line(20 + i)).join('\n'),
  ];
  const chunks = chunkPages(pages, { targetTokens: 100, overlapTokens: 20 });
  assert.ok(chunks.length >= 5);
  for (const chunk of chunks) assert.ok(chunk.tokenEstimate <= 100, `${chunk.tokenEstimate} tokens`);
  assert.deepEqual(
    chunks.map((c) => c.index),
    chunks.map((_, i) => i),
  );
  // Every line is in some chunk; the next chunk starts with the end of the previous one.
  for (let n = 0; n < 40; n++)
    assert.ok(
      chunks.some((c) => c.text.includes(line(n))),
      `line ${n}`,
    );
  const lastLineOfFirst = chunks[0]!.text.split('\n').at(-1)!;
  assert.ok(chunks[1]!.text.startsWith(lastLineOfFirst));
  assert.equal(chunks[0]!.pageFrom, 1);
  assert.equal(chunks.at(-1)!.pageTo, 2);
  assert.ok(chunks.some((c) => c.pageFrom === 1 && c.pageTo === 2));
});

test('blank-line paragraphs are kept whole, and a paragraph longer than a chunk is cut at sentence ends', () => {
  const long = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
  const chunks = chunkPages([`Short intro.\n\n${long}`], { targetTokens: 50, overlapTokens: 0 });
  assert.equal(chunks[0]!.text.startsWith('Short intro.'), true);
  for (const chunk of chunks) assert.ok(chunk.text.length <= 200);
  assert.ok(chunks.slice(1).every((c) => /^Sentence number \d+ is here\./.test(c.text)));
  assert.deepEqual(chunkPages(['', '  '], { targetTokens: 50, overlapTokens: 10 }), []);
});

test('BM25 ranks the chunk holding the rare words of the question first, and leaves out chunks sharing nothing', async () => {
  const ranker = new Bm25Ranker();
  const ranked = await ranker.rank('Which winds blow over the prairies?', [
    { id: 1, text: 'The prairies are wide. The prairies are flat. The prairies are green.' },
    { id: 2, text: 'Over the prairies blow the Zephyrine winds.' },
    { id: 3, text: 'Glaciers carve valleys.' },
  ]);
  assert.deepEqual(
    ranked.map((r) => r.id),
    [2, 1],
  );
  assert.deepEqual(await ranker.rank('', [{ id: 1, text: 'x' }]), []);
});
