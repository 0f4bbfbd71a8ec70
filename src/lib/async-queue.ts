/**
 * An unbounded hand-off from a producer that pushes to a consumer that pulls (`for await`): items
 * wait in a buffer in between, so the producer never waits for the consumer.
 *
 * `start` runs on the first pull, so nothing is produced for a stream nobody reads. When the
 * consumer leaves early (break, or return()), the buffer is dropped, later pushes are ignored and
 * `onClose` tells the producer, which may stop (a local generation) or carry on for itself (a reply
 * that is stored to the end even if nobody reads it any more).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #buffer: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;
  #started = false;
  readonly #start: (() => void) | undefined;
  readonly #onClose: (() => void) | undefined;

  constructor(options: { start?: () => void; onClose?: () => void } = {}) {
    this.#start = options.start;
    this.#onClose = options.onClose;
  }

  push(item: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: item, done: false });
    } else this.#buffer.push(item);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (!this.#started) {
          this.#started = true;
          this.#start?.();
        }
        if (this.#buffer.length > 0) return Promise.resolve({ value: this.#buffer.shift()!, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        if (!this.#ended) {
          this.#buffer.length = 0;
          this.end();
          this.#onClose?.();
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
