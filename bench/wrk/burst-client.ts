/**
 * Opens N streams at once (one connection each) and prints one JSON line: first-byte percentiles,
 * failures and, given a pid, that process's RSS at the peak minus before, per stream.
 * Usage: node bench/wrk/burst-client.ts <url> <key> <model> [streams=1000] [pid]
 */
import type * as Http from 'node:http';

const http = process.getBuiltinModule('node:http') as typeof Http;
const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
const [url = '', key = '', model = '', streams = '1000', pid = ''] = process.argv.slice(2);
const target = new URL(url);
if (!['127.0.0.1', 'localhost'].includes(target.hostname)) throw new Error('loopback only');
const count = Number(streams);
const body = JSON.stringify({
  model,
  stream: true,
  messages: [{ role: 'user', content: 'Say hello in twenty tokens.' }],
});
const headers = {
  'content-type': 'application/json',
  'content-length': Buffer.byteLength(body),
  authorization: `Bearer ${key}`,
};
const agent = new http.Agent({ keepAlive: true, maxSockets: count });
const rss = () =>
  pid ? Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) : Number.NaN;

function once(): Promise<{ ok: boolean; first: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let first = 0;
    let tail = '';
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers, agent },
      (res) => {
        res.on('data', (d: Buffer) => {
          if (!first) first = performance.now() - t0;
          tail = (tail + d.toString('latin1')).slice(-32);
        });
        res.on('end', () => resolve({ ok: res.statusCode === 200 && tail.includes('[DONE]'), first }));
        res.on('error', () => resolve({ ok: false, first }));
      },
    );
    req.on('error', () => resolve({ ok: false, first: 0 }));
    req.end(body);
  });
}

const before = rss();
let peak = before;
const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
const results = await Promise.all(Array.from({ length: count }, once));
clearInterval(sampler);
agent.destroy();
const firsts = results
  .filter((r) => r.ok)
  .map((r) => r.first)
  .sort((a, b) => a - b);
const pct = (p: number) =>
  Math.round(firsts[Math.min(firsts.length - 1, Math.floor((p / 100) * firsts.length))] ?? Number.NaN);
console.log(
  JSON.stringify({
    p50: pct(50),
    p99: pct(99),
    min: Math.round(firsts[0] ?? Number.NaN),
    failures: count - firsts.length,
    kibPerStream: Math.round(((peak - before) / count) * 10) / 10,
  }),
);
