/**
 * `npm run soak`: mixed traffic against one Causerie on loopback for SOAK_SECONDS (default 600),
 * then checks it came back to rest. Clients that hang up mid-stream at random, malformed requests,
 * slow clients (a byte at a time, some never finishing), public visitors and plain API use, at
 * SOAK_CLIENTS at once (default 12). Afterwards: memory (heap after a full collection) and open
 * handles and file descriptors back near where they started, and every conversation consistent (no
 * message left `streaming`). Prints a table; exits 1 when a check fails. Not part of npm test.
 * SOAK_DIALECT=postgres runs it on PostgreSQL.
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Pool } from 'undici';
import { startChatServer } from '../test/e2e/conversations-helpers.ts';
import { basic, createKey, signUp } from '../test/helpers/platform.ts';
import { mintToken, publishAgent } from '../test/e2e/public-agents-helpers.ts';

const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const clients = Number(process.env.SOAK_CLIENTS ?? 12);
const dialect = process.env.SOAK_DIALECT === 'postgres' ? 'postgres' : 'sqlite';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
const snapshot = async () => {
  await settle();
  return {
    heapMiB: process.memoryUsage().heapUsed / 1048576,
    rssMiB: process.memoryUsage().rss / 1048576,
    handles: process.getActiveResourcesInfo().filter((kind) => kind !== 'Timeout').length,
    fds: readdirSync('/proc/self/fd').length,
  };
};

const chat = await startChatServer(dialect, {
  CAUSERIE_REQUEST_TIMEOUT_MS: '2000',
  CAUSERIE_WRITES_PER_MINUTE: '100000',
  CAUSERIE_PUBLIC_VISITOR_REQUESTS_PER_MINUTE: '100000',
  CAUSERIE_PUBLIC_BURST_LIMIT: '100000',
});
const server = chat.server;
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

const before = await snapshot();
const started = performance.now();
const deadline = started + seconds * 1000;
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (performance.now() < deadline) await oneAction().catch(() => count('errors: client'));
  }),
);
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
const afterRun = await snapshot();
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
row('heap after GC (MiB)  before → after', `${before.heapMiB.toFixed(1)} → ${afterRun.heapMiB.toFixed(1)}`);
row('RSS (MiB)            before → after', `${before.rssMiB.toFixed(0)} → ${afterRun.rssMiB.toFixed(0)}`);
row('active handles       before → after', `${before.handles} → ${afterRun.handles}`);
row('file descriptors     before → after', `${before.fds} → ${afterRun.fds}`);
row('messages left streaming', stuck.length);
row('healthy after', healthy ? 'yes' : 'NO');

const failures = [
  stuck.length > 0 && `${stuck.length} messages left streaming`,
  !healthy && 'not healthy after the run',
  (counts['errors: 5xx'] ?? 0) > 0 && `${counts['errors: 5xx']} answers were 5xx`,
  afterRun.heapMiB > before.heapMiB + 64 && `heap grew by ${(afterRun.heapMiB - before.heapMiB).toFixed(1)} MiB`,
  afterRun.fds > before.fds + 16 && `file descriptors grew by ${afterRun.fds - before.fds}`,
  afterRun.handles > before.handles + 16 && `handles grew by ${afterRun.handles - before.handles}`,
].filter(Boolean);
if (failures.length) {
  console.log(`\nFAILED: ${failures.join('; ')}`);
  process.exitCode = 1;
} else console.log('\nOK: back at rest, nothing stuck');
