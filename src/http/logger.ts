import { AsyncLocalStorage } from 'node:async_hooks';
import { fstatSync } from 'node:fs';
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
 * Standard output. The lines logged during one event-loop turn leave together at its end
 * (setImmediate), in one write. To a pipe or socket (a service manager, a container runtime, a
 * log collector) that write is asynchronous: lines logged while one is in flight leave with the
 * next, so a slow reader never blocks the event loop, and one that stops reading holds at most
 * 16 MiB before new lines are dropped. To a regular file it is synchronous: it lands in the page
 * cache, and an asynchronous write there cost four times as much CPU (a hop to libuv's thread
 * pool and back per write; by CPU profile of JSON completions at 50 connections, the request line
 * was 9.4 % of the process's time written asynchronously line by line, 3.6 % so). What is
 * waiting is written synchronously when the process exits, so a normal shutdown (and an uncaught
 * error) loses no line; only a process killed outright (SIGKILL, out of memory) can lose the few
 * lines of its last turn.
 */
function stdoutLines() {
  return linesOfOneTurnTogether(pino.destination({ dest: 1, sync: isRegularFile(1), maxLength: pendingLogBytes }));
}

function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

type Destination = ReturnType<typeof pino.destination>;

/** Destinations holding lines of the current turn, written out if the process exits first. */
const heldAtExit = new Set<WeakRef<{ writeHeld(): void }>>();
let exitHookSet = false;

function writeHeldLinesAtExit(): void {
  for (const ref of heldAtExit) ref.deref()?.writeHeld();
}

/** Hands `target` the lines of one event-loop turn in one write, at the end of the turn. */
function linesOfOneTurnTogether(target: Destination) {
  let pending = '';
  const handOver = () => {
    if (pending === '') return;
    const lines = pending;
    pending = '';
    target.write(lines);
  };
  const lines = {
    write(line: string) {
      if (pending === '') setImmediate(handOver);
      pending += line;
    },
    flush(callback?: (error?: Error) => void) {
      handOver();
      target.flush(callback);
    },
    writeHeld() {
      handOver();
      try {
        target.flushSync();
      } catch {
        // A destination already closed has nothing left to write.
      }
    },
  };
  heldAtExit.add(new WeakRef(lines));
  if (!exitHookSet) {
    exitHookSet = true;
    process.on('exit', writeHeldLinesAtExit);
  }
  return lines;
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
