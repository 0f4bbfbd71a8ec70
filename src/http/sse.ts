import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** Silence before a keep-alive comment (config CAUSERIE_SSE_HEARTBEAT_MS). */
    sseHeartbeatMs?: number;
  }
}

/**
 * A Server-Sent Events response written straight to the socket. Sends a comment every
 * heartbeatMs of silence so proxies keep the connection; `signal` aborts when the client goes away.
 */
export class SseStream {
  readonly signal: AbortSignal;
  private readonly reply: FastifyReply;
  private readonly controller = new AbortController();
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private detach: (() => void) | undefined;
  private corked: NodeJS.Immediate | undefined;

  constructor(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { headers?: Record<string, string>; heartbeatMs?: number } = {},
  ) {
    this.reply = reply;
    this.signal = this.controller.signal;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      ...options.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // A draining server ends the connection with the stream (headers are written here, not by the app's hook).
      connection: request.server.lifecycle?.draining ? 'close' : 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    const onClose = () => {
      if (!raw.writableFinished) this.controller.abort(new Error('client disconnected'));
      this.stop();
    };
    const socket = request.raw.socket;
    socket.on('close', onClose);
    raw.on('close', onClose);
    // A keep-alive socket serves many requests: leaving the listener would pile one up per stream.
    this.detach = () => socket.off('close', onClose);
    const heartbeatMs = options.heartbeatMs ?? request.server.sseHeartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), heartbeatMs);
    this.heartbeat.unref();
  }

  /** Sends one event whose data may span lines (each line gets its own "data:" field, per the SSE standard). */
  send(data: string, event?: string): void {
    let frame = event ? `event: ${event}\n` : '';
    frame +=
      data.includes('\n') || data.includes('\r')
        ? data
            .split(/\r\n|\r|\n/)
            .map((line) => `data: ${line}`)
            .join('\n')
        : `data: ${data}`;
    this.write(`${frame}\n\n`);
  }

  sendJson(value: unknown, event?: string): void {
    this.send(JSON.stringify(value), event);
  }

  private write(chunk: string): void {
    if (this.closed) return;
    this.heartbeat?.refresh();
    const raw = this.reply.raw;
    // Frames written in one turn of the event loop (an upstream packet often holds several tokens)
    // leave in one syscall: cork now, uncork once this turn's callbacks have run.
    if (!this.corked) {
      this.corked = setImmediate(this.uncork);
      raw.cork();
    }
    raw.write(chunk);
  }

  /** Sends what is corked. Must run before the response ends: a later uncork would hit the next response on a keep-alive socket. */
  private readonly uncork = () => {
    if (!this.corked) return;
    clearImmediate(this.corked);
    this.corked = undefined;
    this.reply.raw.uncork();
  };

  end(): void {
    if (this.closed) return;
    this.stop();
    this.reply.raw.end();
  }

  private stop(): void {
    this.uncork();
    this.closed = true;
    clearInterval(this.heartbeat);
    this.detach?.();
  }
}
