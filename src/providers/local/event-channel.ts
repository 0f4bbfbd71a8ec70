/**
 * Turns node-llama-cpp's callbacks into the async iterable a Provider returns: the producer pushes,
 * the consumer pulls, items wait in a buffer in between. The producer starts on the first pull
 * (nothing runs for a stream nobody reads) and learns through `onClose` when the consumer leaves
 * early (break, or return()), so generation stops instead of running on for nobody.
 */
export class EventChannel<T> implements AsyncIterable<T> {
  readonly #buffer: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;
  #started = false;
  readonly #start: () => void;
  readonly #onClose: () => void;

  constructor(options: { start: () => void; onClose: () => void }) {
    this.#start = options.start;
    this.#onClose = options.onClose;
  }

  push(item: T) {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: item, done: false });
    } else this.#buffer.push(item);
  }

  end() {
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
          this.#start();
        }
        const item = this.#buffer.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        if (!this.#ended) {
          this.#buffer.length = 0;
          this.end();
          this.#onClose();
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
