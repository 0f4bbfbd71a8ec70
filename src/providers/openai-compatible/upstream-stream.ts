import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import type { Pool } from '../../lib/undici.ts';

type ResponseHeaders = Dispatcher.ResponseData['headers'];

/** Text held for a reader that has not asked for it yet, beyond which the upstream is paused. */
const highWaterMark = 64 * 1024;

/**
 * A streamed response's body as UTF-8 text chunks, read straight from undici's dispatch handler:
 * undici's request() wraps it in a Readable stream, whose machinery (events, ticks and a promise
 * per chunk for an async iterator, a string decoder) cost more than parsing the events it carries.
 * Same behaviour: the upstream is paused while more than 64 KiB wait for the reader, the request
 * is aborted when the reader stops early or the signal fires, and `done` runs once the body ends,
 * fails or is abandoned (its connection is then free).
 */
export class UpstreamBody implements AsyncIterable<string>, AsyncIterator<string> {
  statusCode = 0;
  headers: ResponseHeaders = {};
  private controller: Dispatcher.DispatchController | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private readonly queue: string[] = [];
  private queued = 0;
  private ended = false;
  private failure: unknown;
  private waiting: { resolve: (result: IteratorResult<string>) => void; reject: (error: unknown) => void } | undefined;
  private started: { resolve: (body: UpstreamBody) => void; reject: (error: unknown) => void } | undefined;
  private readonly signal: AbortSignal;
  private readonly onAbort = () => this.controller?.abort(this.signal.reason);
  private done: (() => void) | undefined;

  private constructor(signal: AbortSignal, done: () => void) {
    this.signal = signal;
    this.done = done;
  }

  /**
   * Sends one request; resolves once its response started (status and headers; 1xx skipped),
   * rejects with the transport's error (or the signal's reason) if it never did.
   */
  static open(
    pool: Pool,
    options: Dispatcher.DispatchOptions,
    signal: AbortSignal,
    done: () => void,
  ): Promise<UpstreamBody> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason); // not even a connection for it
      const body = new UpstreamBody(signal, done);
      body.started = { resolve, reject };
      signal.addEventListener('abort', body.onAbort, { once: true });
      pool.dispatch(options, body);
    });
  }

  // undici's dispatch handler.

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason);
  }

  onResponseStart(_controller: unknown, statusCode: number, headers: ResponseHeaders): void {
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    const started = this.started;
    this.started = undefined;
    started?.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    if (text === '') return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve({ value: text, done: false });
      return;
    }
    this.queue.push(text);
    this.queued += text.length;
    if (this.queued > highWaterMark) controller.pause();
  }

  onResponseEnd(): void {
    const rest = this.decoder.end();
    if (rest) {
      this.queue.push(rest);
      this.queued += rest.length;
    }
    this.ended = true;
    this.finish();
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      const value = this.queue.shift();
      waiting.resolve(value === undefined ? { value: undefined, done: true } : { value, done: false });
    }
  }

  onResponseError(_controller: unknown, error: unknown): void {
    this.failure = error;
    // What was received but not read is dropped, as a destroyed stream drops it: a stopped answer
    // (revoked key, duration cap, client gone) must not go on yielding up to 64 KiB of text.
    this.queue.length = 0;
    this.queued = 0;
    this.finish();
    const started = this.started;
    this.started = undefined;
    if (started) {
      started.reject(error);
      return;
    }
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.reject(error);
    }
  }

  // The reader's side.

  /** The body is always text (UTF-8); kept for readers written for a Node stream. */
  setEncoding(_encoding: 'utf8'): this {
    return this;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<string>> {
    const value = this.queue.shift();
    if (value !== undefined) {
      this.queued -= value.length;
      if (this.queued <= highWaterMark && this.controller?.paused) this.controller.resume();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** The reader stopped before the end: the request is aborted, which frees its connection. */
  return(): Promise<IteratorResult<string>> {
    if (!this.ended && this.failure === undefined) {
      this.failure = new Error('The response body was abandoned');
      this.controller?.abort(this.failure as Error);
      this.finish();
    }
    this.queue.length = 0;
    this.queued = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The whole body as text (an error status's explanation). */
  async text(): Promise<string> {
    let text = '';
    for await (const chunk of this) text += chunk;
    return text;
  }

  private finish(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    const done = this.done;
    this.done = undefined;
    done?.();
  }
}
