/**
 * Synthetic text for the search benchmark: a vocabulary of made-up words drawn with a Zipf law
 * (a few very common words, a long tail), as natural language is, and random unit vectors.
 * Seeded, so every run searches the same store.
 */
export interface BenchCorpus {
  message(): string;
  query(): string;
  vector(dimensions: number): Float32Array;
}

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const syllables = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sa',
  'to',
  'vi',
  'ze',
  'po',
  'da',
  'fe',
  'gu',
  'hi',
  'jo',
  'bé',
  'ça',
  'ré',
];

export function benchCorpus(seed: number, vocabularySize = 20_000): BenchCorpus {
  const random = mulberry32(seed);
  const words: string[] = [];
  const seen = new Set<string>();
  while (words.length < vocabularySize) {
    const length = 2 + Math.floor(random() * 3);
    let word = '';
    for (let i = 0; i < length; i++) word += syllables[Math.floor(random() * syllables.length)];
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  // Cumulative Zipf weights (exponent 1).
  const cumulative = new Float64Array(vocabularySize);
  let sum = 0;
  for (let i = 0; i < vocabularySize; i++) cumulative[i] = sum += 1 / (i + 1);
  const pick = () => {
    const target = random() * sum;
    let lo = 0;
    let hi = vocabularySize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return words[lo]!;
  };
  return {
    message: () => Array.from({ length: 8 + Math.floor(random() * 32) }, pick).join(' '),
    // One or two words from the middle of the distribution (a word searched for is seldom "the").
    query: () =>
      Array.from({ length: 1 + Math.floor(random() * 2) }, () => words[20 + Math.floor(random() * 2000)]!).join(' '),
    vector(dimensions) {
      const v = new Float32Array(dimensions);
      let norm = 0;
      for (let i = 0; i < dimensions; i++) {
        const value = random() * 2 - 1;
        v[i] = value;
        norm += value ** 2;
      }
      norm = Math.sqrt(norm);
      for (let i = 0; i < dimensions; i++) v[i] = v[i]! / norm;
      return v;
    },
  };
}
