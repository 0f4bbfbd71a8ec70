/**
 * Gathers the text a local model writes faster than `intervalMs` apart into one event (decision 027).
 * A small model writes thousands of tokens a second, and each event costs a socket write and its
 * share of the pipeline (usage, event log, SSE frame) whatever its length: sent one by one, they
 * cost a third of the generation's speed. The first piece, and every piece that comes after a
 * quiet `intervalMs`, is sent at once, so a model slower than that streams token by token as before
 * and a faster one in pieces at most `intervalMs` late.
 */
export class TextBatches {
  readonly #send: (text: string) => void;
  readonly #intervalMs: number;
  #pending = '';
  #sentAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(send: (text: string) => void, intervalMs: number) {
    this.#send = send;
    this.#intervalMs = intervalMs;
  }

  add(text: string): void {
    this.#pending += text;
    if (this.#timer) return;
    const wait = this.#sentAt + this.#intervalMs - performance.now();
    if (wait <= 0) this.flush();
    else this.#timer = setTimeout(this.flush, wait);
  }

  /** Sends what is gathered now (before the answer's usage and finish). */
  readonly flush = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#pending) return;
    const text = this.#pending;
    this.#pending = '';
    this.#sentAt = performance.now();
    this.#send(text);
  };

  /** Forgets what is gathered (the reader is gone or the answer was stopped: nobody will read it). */
  drop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = '';
  }
}
