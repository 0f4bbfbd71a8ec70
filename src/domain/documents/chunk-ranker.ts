/** A chunk as a ranker sees it. */
export interface RankableChunk {
  id: number;
  text: string;
}

/**
 * Orders a conversation's chunks by relevance to a question. The lexical ranker below is the
 * default; a hybrid (keyword + embeddings) ranker can replace it through this interface.
 */
export interface ChunkRanker {
  /** Chunk ids with a score, best first; chunks that share nothing with the query may be left out. */
  rank(query: string, chunks: RankableChunk[]): Promise<Array<{ id: number; score: number }>>;
}

/** Lower-cased words and numbers, accents kept (a French question matches a French PDF). */
export const termsOf = (text: string): string[] =>
  text
    .toLowerCase()
    .match(/[\p{L}\p{N}]+/gu)
    ?.filter((t) => t.length > 1) ?? [];

/**
 * Okapi BM25 over the given chunks only (k1 1.2, b 0.75): a term weighs more when it is rare among
 * the chunks and frequent in one, with a saturation so repeating a word does not win by itself.
 */
export class Bm25Ranker implements ChunkRanker {
  private readonly k1 = 1.2;
  private readonly b = 0.75;

  async rank(query: string, chunks: RankableChunk[]): Promise<Array<{ id: number; score: number }>> {
    const queryTerms = [...new Set(termsOf(query))];
    if (queryTerms.length === 0 || chunks.length === 0) return [];
    const documents = chunks.map((chunk) => {
      const counts = new Map<string, number>();
      const terms = termsOf(chunk.text);
      for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
      return { id: chunk.id, counts, length: terms.length };
    });
    const averageLength = documents.reduce((sum, d) => sum + d.length, 0) / documents.length || 1;
    const idf = new Map(
      queryTerms.map((term) => {
        const containing = documents.filter((d) => d.counts.has(term)).length;
        return [term, Math.log(1 + (documents.length - containing + 0.5) / (containing + 0.5))];
      }),
    );
    const scored = documents.map((d) => {
      let score = 0;
      for (const term of queryTerms) {
        const frequency = d.counts.get(term) ?? 0;
        if (frequency === 0) continue;
        score +=
          idf.get(term)! *
          ((frequency * (this.k1 + 1)) / (frequency + this.k1 * (1 - this.b + (this.b * d.length) / averageLength)));
      }
      return { id: d.id, score };
    });
    return scored.filter((s) => s.score > 0).sort((a, b) => b.score - a.score || a.id - b.id);
  }
}
