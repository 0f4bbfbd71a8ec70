import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import { prettyStream } from './pretty-log.ts';

export type { Logger };

/** A public conversation's client token travels in the path: it never reaches a log line. */
export const maskSecretsInUrl = (url: string) => url.replace(/(\/public\/messages\/)[^/?]+/, '$1***');

/**
 * The one logger: Fastify logs requests with it, and the services get child loggers of it (one
 * per module), so every line has the same format and level. Never a header (Authorization,
 * cookies) in a line, and secret path segments masked. `pretty` writes human-readable lines (for a
 * terminal) instead of JSON; `destination` defaults to stdout.
 */
export function createLogger(
  level: string,
  options: { pretty?: boolean; destination?: NodeJS.WritableStream | { write(line: string): void } } = {},
): Logger {
  const settings = {
    level,
    serializers: {
      req: (request: { method: string; url: string; ip?: string }) => ({
        method: request.method,
        url: maskSecretsInUrl(request.url),
        ip: request.ip,
      }),
    },
  };
  const destination = options.destination ?? (options.pretty ? prettyStream() : stdoutLines());
  return pino(settings, destination as NodeJS.WritableStream);
}

/** Lines waiting for standard output at most (a blocked pipe): past it new lines are dropped, not held. */
const pendingLogBytes = 16 * 1024 * 1024;
/** Lines are written by the 64 KiB (about 150 requests' lines), or every 250 ms whatever there is. */
const logBatchBytes = 64 * 1024;
const logFlushMs = 250;

/**
 * Standard output, written in batches: a line is appended to a buffer, and the buffer goes out in
 * one asynchronous write once it holds 64 KiB, or after 250 ms at most. Writing each line at once
 * cost a blocking write per line, two per request: about a fifth of a JSON completion's CPU
 * time. pino writes what is left synchronously when the process exits, so a normal shutdown (and
 * an uncaught error) loses no line; only a process killed outright (SIGKILL, out of memory) can lose
 * the last 250 ms. A reader that stops reading (a blocked pipe) makes lines past 16 MiB be dropped.
 */
function stdoutLines() {
  return pino.destination({
    dest: 1,
    sync: false,
    minLength: logBatchBytes,
    maxWrite: 4 * logBatchBytes,
    periodicFlush: logFlushMs,
    maxLength: pendingLogBytes,
  });
}

/** A logger that writes nothing (tests that do not read logs). */
export const silentLogger = (): Logger => pino({ enabled: false });

/** What a request logs through: Fastify's child logger, which carries the request id (`reqId`). */
interface RequestLogger {
  child(bindings: Record<string, unknown>): { warn(message: string): void };
}

const requestLogs = new AsyncLocalStorage<RequestLogger>();

/** Runs the rest of a request (its hooks, handler and stream) with its logger at hand. */
export const withRequestLogger = (log: RequestLogger, run: () => void) => requestLogs.run(log, run);

/**
 * A module's warnings: through the logger of the request being served when there is one (so the
 * line carries its request id), else through the module's child of the process logger.
 */
export function warningsOf(log: Logger, module: string): (message: string) => void {
  const child = log.child({ module });
  return (message) => (requestLogs.getStore()?.child({ module }) ?? child).warn(message);
}
