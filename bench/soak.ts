/**
 * `npm run soak`: mixed traffic against one Causerie on loopback for SOAK_SECONDS (default 600),
 * then checks it came back to rest. Clients that hang up mid-stream at random, malformed requests,
 * slow clients (a byte at a time, some never finishing), public visitors and plain API use, at
 * SOAK_CLIENTS at once (default 12). SOAK_DIALECT=postgres runs it on PostgreSQL.
 *
 * Memory is judged twice. Ended answers are deliberately kept resumable for
 * CAUSERIE_STREAM_RESUME_SECONDS (SOAK_RESUME_SECONDS here, default 60 rather than the server's
 * 300, so the wait stays short) within the event log's budget: right after the traffic, the heap
 * (after a full collection) may exceed its start by that budget plus a margin, no more, and what
 * the window's lapse frees must match what the log counted (an undercount is how it once held
 * more than its budget). Once the window has lapsed and the log is empty, memory, open handles and file descriptors must be back
 * near their start, and no message left `streaming`. Prints a table; exits 1 when a check fails.
 * Not part of npm test.
 *
 * SOAK_HEAP_SNAPSHOTS=dir writes heap snapshots of the process (server and clients alike) before
 * the traffic, after a quarter of it, after it and at rest; `node bench/heap-diff.ts a b` says
 * what grew between two. Writing one stops everything for seconds: figures of such a run are
 * for diagnosis, not for the record.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { Pool } from 'undici';
import { MemoryEventLog } from '../src/stores/kv/memory-event-log.ts';
import { startChatServer } from '../test/e2e/conversations-helpers.ts';
import { basic, createKey, signUp } from '../test/helpers/platform.ts';
import { mintToken, publishAgent } from '../test/e2e/public-agents-helpers.ts';

const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const clients = Number(process.env.SOAK_CLIENTS ?? 12);
const dialect = process.env.SOAK_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
const resumeSeconds = Number(process.env.SOAK_RESUME_SECONDS ?? 60);
const snapshotDir = process.env.SOAK_HEAP_SNAPSHOTS;
/** What the heap may hold beyond its start once nothing is kept on purpose (caches filled, code compiled). */
const restMarginMiB = 16;
/** What it may hold beyond the event log's budget while ended answers are kept. */
const retainedMarginMiB = 16;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
const snapshot = async (name: string) => {
  await settle();
  const memory = process.memoryUsage();
  const figures = {
    heapMiB: memory.heapUsed / 1048576,
    heapTotalMiB: memory.heapTotal / 1048576,
    externalMiB: memory.external / 1048576,
    rssMiB: memory.rss / 1048576,
    handles: process.getActiveResourcesInfo().filter((kind) => kind !== 'Timeout').length,
    fds: readdirSync('/proc/self/fd').length,
  };
  if (snapshotDir) {
    mkdirSync(snapshotDir, { recursive: true });
    writeHeapSnapshot(join(snapshotDir, `${name}.heapsnapshot`));
  }
  return figures;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const chat = await startChatServer(dialect, {
  CAUSERIE_REQUEST_TIMEOUT_MS: '2000',
  CAUSERIE_WRITES_PER_MINUTE: '100000',
  CAUSERIE_PUBLIC_VISITOR_REQUESTS_PER_MINUTE: '100000',
  CAUSERIE_PUBLIC_BURST_LIMIT: '100000',
  CAUSERIE_STREAM_RESUME_SECONDS: String(resumeSeconds),
});
const server = chat.server;
const eventLog = server.services.answerStreams?.log;
const logUsage = () => (eventLog instanceof MemoryEventLog ? eventLog.usage : undefined);
const users = await Promise.all(Array.from({ length: 4 }, (_, i) => signUp(server, `soak-${i}`)));
const keys = await Promise.all(users.map((user) => createKey(server, user.basic, { name: 'soak' })));
const published = await publishAgent(server, { owner: users[0]! });
const origin = 'https://shop.example';
const browser = { origin, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0' };
const { port } = new URL(server.url);

const counts: Record<string, number> = {};
const count = (kind: string) => {
  counts[kind] = (counts[kind] ?? 0) + 1;
};
const pool = new Pool(server.url, { connections: clients, keepAliveTimeout: 10_000 });
const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;

async function request(kind: string, options: Parameters<Pool['request']>[0] & { abortAfterMs?: number }) {
  const controller = new AbortController();
  const timer =
    options.abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), options.abortAfterMs);
  try {
    const response = await pool.request({ ...options, signal: controller.signal });
    await response.body.text();
    count(`${kind} ${response.statusCode >= 500 ? '5xx' : response.statusCode >= 400 ? '4xx' : 'ok'}`);
    if (response.statusCode >= 500) count('errors: 5xx');
  } catch (error) {
    count(controller.signal.aborted ? `${kind} hung up` : `${kind} transport error`);
    if (!controller.signal.aborted) count(`errors: ${(error as { code?: string }).code ?? 'transport'}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A client sending its request a few bytes at a time; some never finish (the server must cut them). */
function slowClient(finish: boolean) {
  return new Promise<void>((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const body = '{"title":"slow"}';
    const text = `POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keys[0]!.key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    let sent = 0;
    const step = setInterval(() => {
      if (socket.destroyed) return;
      if (!finish && sent > text.length / 2) return; // stalls half-way
      socket.write(text.slice(sent, sent + 8));
      sent += 8;
      if (sent >= text.length) clearInterval(step);
    }, 40);
    socket.on('data', () => socket.end());
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(step);
      count(finish ? 'slow client answered' : 'stalled client cut off');
      resolve();
    });
  });
}

const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
async function oneAction() {
  const i = Math.floor(Math.random() * users.length);
  const auth = { authorization: `Bearer ${keys[i]!.key}` };
  const roll = Math.random();
  if (roll < 0.25) {
    const session = await pool.request({
      method: 'POST',
      path: '/api/v1/sessions',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4' }),
    });
    const created = (await session.body.json()) as { id: number };
    count('session created');
    const stream = Math.random() < 0.5;
    const prompt = `soak ${Math.random().toString(36).slice(2)} [[chunk-delay:5]] ${'word '.repeat(20)}`;
    // Half the streams are abandoned at a random moment.
    await request('session completion', {
      method: 'POST',
      path: `/api/v1/sessions/${created.id}/models/completions`,
      headers: { ...auth, 'content-type': 'application/json', ...(stream ? { accept: 'text/event-stream' } : {}) },
      body: JSON.stringify({ prompt, stream }),
      abortAfterMs: Math.random() < 0.5 ? Math.floor(Math.random() * 150) : undefined,
    });
  } else if (roll < 0.4) {
    await request('openai stream', {
      method: 'POST',
      path: '/v1/chat/completions',
      ...json({
        model: 'gpt-4',
        stream: true,
        messages: [{ role: 'user', content: `[[chunk-delay:3]] ${'tok '.repeat(30)}` }],
      }),
      headers: { ...auth, 'content-type': 'application/json' },
      abortAfterMs: Math.random() < 0.5 ? Math.floor(Math.random() * 100) : undefined,
    });
  } else if (roll < 0.6) {
    await request('read', {
      method: 'GET',
      path: pick(['/api/v1/sessions?limit=100', '/api/v1/keys', '/api/v1/me', '/v1/models', '/api/v1/usage']),
      headers: auth,
    });
  } else if (roll < 0.75) {
    const [path, body, contentType] = pick([
      ['/api/v1/sessions', '{"title":', 'application/json'],
      ['/api/v1/sessions/99999999/history', undefined, undefined],
      ['/api/v1/sessions/abc', undefined, undefined],
      ['/v1/chat/completions', '{"model":42}', 'application/json'],
      ['/api/v1/keys', 'name=x', 'application/x-www-form-urlencoded'],
      ['/api/v1/sessions', JSON.stringify({ title: 'x'.repeat(2_000_000) }), 'application/json'],
    ] as Array<[string, string | undefined, string | undefined]>);
    await request('malformed', {
      method: body === undefined ? 'GET' : 'POST',
      path,
      body,
      headers: { ...auth, ...(contentType ? { 'content-type': contentType } : {}) },
    });
  } else if (roll < 0.85) {
    const minted = await mintToken(server, published.key, published.agent.id);
    if (minted.status !== 200) return count(`public token ${minted.status}`);
    await request('public message', {
      method: 'POST',
      path: '/v1/chat/conversation/public/message',
      headers: { ...browser, 'content-type': 'application/json' },
      body: JSON.stringify({ client_token: minted.body.token, message: 'bonjour', stream: Math.random() < 0.5 }),
      abortAfterMs: Math.random() < 0.3 ? Math.floor(Math.random() * 80) : undefined,
    });
  } else if (roll < 0.9) {
    await slowClient(Math.random() < 0.5);
  } else {
    await request('basic read', {
      method: 'GET',
      path: '/api/v1/me',
      headers: { authorization: basic(users[i]!.username, users[i]!.password) },
    });
  }
}

const before = await snapshot('1-before');
const started = performance.now();
const deadline = started + seconds * 1000;
// The event log's count of what it keeps, at its highest.
let peakLog = logUsage();
const watch = setInterval(() => {
  const now = logUsage();
  if (now && peakLog && now.endedBytes > peakLog.endedBytes) peakLog = now;
}, 1000);
const warm = snapshotDir
  ? sleep((seconds * 1000) / 4).then(() => (performance.now() < deadline ? snapshot('2-warm') : undefined))
  : undefined;
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (performance.now() < deadline) {
      await oneAction().catch(() => count('errors: client'));
      // The scripted upstream records every request for tests to assert on: the soak's own harness
      // must not be what grows.
      chat.upstream.requests.length = 0;
    }
  }),
);
clearInterval(watch);
await warm;
const elapsed = (performance.now() - started) / 1000;
await pool.close();
// Answers abandoned by their clients finish or stop on their own: wait until none is running.
for (let i = 0; i < 100; i++) {
  const streaming = await server.services.sql.db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'streaming')
    .executeTakeFirstOrThrow();
  if (Number(streaming.n) === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
server.app.server.closeIdleConnections();
const logAfter = logUsage();
const afterRun = await snapshot('3-after');
// Then the resumable window lapses: every ended answer is forgotten, nothing should remain.
const restDeadline = performance.now() + (resumeSeconds + 30) * 1000;
while (performance.now() < restDeadline && (logUsage()?.answers ?? 0) > 0) await sleep(1000);
const logAtRest = logUsage();
const atRest = await snapshot('4-rest');
const stuck = await server.services.sql.db
  .selectFrom('messages')
  .select(['id', 'conversation_id'])
  .where('status', '=', 'streaming')
  .execute();
const healthy = (await fetch(`${server.url}/healthz`)).status === 200;
await chat.stop();

const total = Object.entries(counts)
  .filter(([kind]) => !kind.startsWith('errors:'))
  .reduce((sum, [, n]) => sum + n, 0);
const row = (name: string, value: string | number) => console.log(`  ${name.padEnd(38)} ${String(value).padStart(12)}`);
console.log(`\nCauserie soak — ${dialect}, ${elapsed.toFixed(0)} s, ${clients} clients, node ${process.version}`);
row('actions', total);
row('actions per second', (total / elapsed).toFixed(1));
for (const [kind, n] of Object.entries(counts).sort()) row(kind, n);
console.log('');
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
const arrow = (a: number, b: number, c: number, digits = 1) =>
  `${a.toFixed(digits)} → ${b.toFixed(digits)} → ${c.toFixed(digits)}`;
console.log(`  ${''.padEnd(38)} ${'before → after → at rest'.padStart(24)}`);
row('heap after GC (MiB)', arrow(before.heapMiB, afterRun.heapMiB, atRest.heapMiB));
row('heap reserved (MiB)', arrow(before.heapTotalMiB, afterRun.heapTotalMiB, atRest.heapTotalMiB, 0));
row('external: buffers… (MiB)', arrow(before.externalMiB, afterRun.externalMiB, atRest.externalMiB));
row('RSS (MiB)', arrow(before.rssMiB, afterRun.rssMiB, atRest.rssMiB, 0));
row('active handles', arrow(before.handles, afterRun.handles, atRest.handles, 0));
row('file descriptors', arrow(before.fds, afterRun.fds, atRest.fds, 0));
console.log('');
row('resumable window (s)', resumeSeconds);
if (logAfter && peakLog && logAtRest) {
  row('event log budget (MiB)', mib(logAfter.budgetBytes));
  row('event log counted, peak (MiB)', `${mib(peakLog.endedBytes)} (${peakLog.ended} answers)`);
  row('event log counted, after (MiB)', `${mib(logAfter.endedBytes)} (${logAfter.ended} answers)`);
  row('event log answers at rest', logAtRest.answers);
  row('heap freed as the window lapsed (MiB)', (afterRun.heapMiB - atRest.heapMiB).toFixed(1));
} else row('event log', eventLog ? eventLog.kind : 'off');
row('messages left streaming', stuck.length);
row('healthy after', healthy ? 'yes' : 'NO');
if (snapshotDir) console.log(`\n  heap snapshots in ${snapshotDir} (the pauses they cause weigh on these figures)`);

const budgetMiB = (logAfter?.budgetBytes ?? 0) / 1048576;
const failures = [
  stuck.length > 0 && `${stuck.length} messages left streaming`,
  !healthy && 'not healthy after the run',
  (counts['errors: 5xx'] ?? 0) > 0 && `${counts['errors: 5xx']} answers were 5xx`,
  afterRun.heapMiB > before.heapMiB + budgetMiB + retainedMarginMiB &&
    `right after the traffic the heap had grown by ${(afterRun.heapMiB - before.heapMiB).toFixed(1)} MiB, more than the event log's ${budgetMiB.toFixed(0)} MiB budget + ${retainedMarginMiB} MiB`,
  logAfter !== undefined &&
    afterRun.heapMiB - atRest.heapMiB > (logAfter.endedBytes / 1048576) * 1.25 + 4 &&
    `the window's lapse freed ${(afterRun.heapMiB - atRest.heapMiB).toFixed(1)} MiB where the event log counted ${mib(logAfter.endedBytes)} MiB`,
  (logAtRest?.answers ?? 0) > 0 && `the event log still held ${logAtRest?.answers} answers after the window`,
  atRest.heapMiB > before.heapMiB + restMarginMiB &&
    `at rest the heap had grown by ${(atRest.heapMiB - before.heapMiB).toFixed(1)} MiB (more than ${restMarginMiB})`,
  atRest.fds > before.fds + 16 && `file descriptors grew by ${atRest.fds - before.fds}`,
  atRest.handles > before.handles + 16 && `handles grew by ${atRest.handles - before.handles}`,
].filter(Boolean);
if (failures.length) {
  console.log(`\nFAILED: ${failures.join('; ')}`);
  process.exitCode = 1;
} else console.log('\nOK: kept memory within its budget, back at rest after the window, nothing stuck');
