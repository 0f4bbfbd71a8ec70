import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fold,
  ftsQuery,
  fuseRanks,
  indexedWords,
  queryWords,
  snippet,
  tsQuery,
} from '../../../src/domain/search/search-text.ts';

describe('search text', () => {
  test('folding ignores case and accents, in French and English alike', () => {
    assert.equal(fold('Élève CAFÉ naïve Ça'), 'eleve cafe naive ca');
    assert.deepEqual(queryWords('  Le café, le CAFE! "très" OR -bon*'), ['le', 'cafe', 'tres', 'or', 'bon']);
    assert.equal(indexedWords('e-mail: jo@ex.fr, π ≈ 3.14'), 'e mail jo ex fr π 3 14');
  });

  test('queries are built from words only, so no input is read as an operator', () => {
    assert.equal(ftsQuery(queryWords('NOT "x" near(y'), 7), 'owner:u7 AND ("not" AND "x" AND "near" AND "y")');
    assert.equal(tsQuery(queryWords("l'été & !x")), "'l' & 'ete' & 'x'");
  });

  test('snippets mark every matched word, escape HTML and cut long texts around the first match', () => {
    assert.equal(
      snippet('Le <b>café</b> & le Cafe', ['cafe']),
      'Le &lt;b&gt;<mark>café</mark>&lt;/b&gt; &amp; le <mark>Cafe</mark>',
    );
    const long = `${'avant '.repeat(100)}volcan ${'après '.repeat(100)}`;
    const cut = snippet(long, ['volcan']);
    assert.match(cut, /^… ?avant .* <mark>volcan<\/mark> après .*…$/);
    assert.ok(cut.length < 300);
    assert.equal(snippet('nothing matches here', ['zzz']), 'nothing matches here');
  });

  test('reciprocal rank fusion puts what both lists hold first', () => {
    const fused = fuseRanks([
      [1, 2, 3],
      [3, 4, 1],
    ]);
    assert.deepEqual(
      fused.map((f) => f.id),
      [1, 3, 2, 4],
    );
    assert.ok(fused[0]!.score > fused[2]!.score);
  });
});
