/**
 * Human-readable log lines for a terminal: pino's JSON lines rewritten as
 * "12:04:05 INFO  [req-id] message  key=value ...". Used only when stdout is a TTY (or
 * CAUSERIE_LOG_FORMAT=pretty); files, pipes and log collectors keep one JSON object per line.
 */

const levels: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const colours: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
// Fields already shown in the line's head, or noise on a terminal.
const shown = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'req', 'res', 'responseTime', 'err']);

/** Formats one pino JSON line; a line that is not JSON is returned as it is. */
export function prettyLine(line: string, colour = false): string {
  let entry: {
    level: number;
    time?: number;
    msg?: unknown;
    reqId?: string;
    req?: { method: string; url: string };
    res?: { statusCode: number };
    responseTime?: unknown;
    err?: { stack?: string };
  } & Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = new Date(entry.time ?? Date.now()).toISOString().slice(11, 19);
  const level = levels[entry.level] ?? String(entry.level);
  const parts = [time, colour ? `\u001b[${colours[entry.level] ?? '0'}m${level}\u001b[0m` : level];
  if (entry.reqId) parts.push(`[${entry.reqId}]`);
  parts.push(String(entry.msg ?? ''));
  if (entry.req) parts.push(`${entry.req.method} ${entry.req.url}`);
  if (entry.res) parts.push(`\u2192 ${entry.res.statusCode}`);
  if (typeof entry.responseTime === 'number') parts.push(`${entry.responseTime.toFixed(1)} ms`);
  const extra = Object.entries(entry).filter(([key]) => !shown.has(key));
  if (extra.length)
    parts.push(
      extra.map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' '),
    );
  let text = parts.join(' ');
  if (entry.err?.stack) text += `\n${entry.err.stack}`;
  return `${text}\n`;
}

/** A pino destination writing human-readable lines to `out` (process.stdout by default). */
export function prettyStream(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout) {
  return { write: (line: string) => void out.write(prettyLine(line, out.isTTY === true)) };
}
