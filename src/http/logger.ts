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
  const destination = options.destination ?? (options.pretty ? prettyStream() : undefined);
  return destination ? pino(settings, destination as NodeJS.WritableStream) : pino(settings);
}

/** A logger that writes nothing (tests that do not read logs). */
export const silentLogger = (): Logger => pino({ enabled: false });
