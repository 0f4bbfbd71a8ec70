import type { Usage } from '../../providers/provider.ts';
import type { Prices } from '../models/models.config.ts';
import { type CharCount, countChars, type TokenCounter, tokensOfChars } from './token-budget.ts';

/** Cost in micro-units: prices are per million tokens, so tokens × price is already in 1e-6 units. */
export function costMicros(usage: Usage, prices: Prices | undefined): number {
  if (!prices) return 0;
  return Math.round(usage.prompt_tokens * prices.input + usage.completion_tokens * prices.output);
}

/** Tracks what a run produced, for the usage row when the upstream reports nothing. */
export class ProducedText {
  private readonly chars: CharCount = { ascii: 0, other: 0 };
  private readonly pieces: string[] | undefined;
  private readonly tokenizer: TokenCounter | undefined;

  /** `tokenizer`: the provider's own, when it has one; then the text is kept for it, else only counted. */
  constructor(tokenizer: TokenCounter | undefined) {
    this.tokenizer = tokenizer;
    this.pieces = tokenizer ? [] : undefined;
  }

  add(text: string): void {
    countChars(text, this.chars);
    this.pieces?.push(text);
  }

  async tokens(): Promise<number> {
    if (this.pieces && this.tokenizer) return this.tokenizer(this.pieces.join(''));
    return tokensOfChars(this.chars);
  }
}
