import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import { prettyStream } from './pretty-log.ts';

export type { Logger };

/** A public conversation's client token travels in the path: it never reaches a log line. */
export const maskSecretsInUrl = (url: string) =>
  url.includes('/public/messages/') ? url.replace(/(\/public\/messages\/)[^/?]+/, '$1***') : url;

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

/**
 * Standard output, written asynchronously: a line leaves at once when no write is in flight, and
 * the lines logged meanwhile leave together in the next write, so a slow disk or pipe never
 * blocks the event loop (a synchronous write per line did, two per request). Batching lines into
 * large buffers first was tried and cost more CPU than it saved (string building and the garbage
 * collector). pino writes what is left synchronously when the process exits, so a normal shutdown
 * (and an uncaught error) loses no line; only a process killed outright (SIGKILL, out of memory)
 * can lose the few lines still waiting. A reader that stops reading holds at most 16 MiB before
 * new lines are dropped.
 */
function stdoutLines() {
  return pino.destination({ dest: 1, sync: false, maxLength: pendingLogBytes });
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
