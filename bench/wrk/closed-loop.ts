/**
 * A closed-loop load client that times each request with the monotonic clock: CONNS loops, each
 * sending its next request when the previous answer has been read in full, for SECONDS.
 *
 *   node bench/wrk/closed-loop.ts <base URL> <bearer key> [conns=200] [seconds=10] [path=/v1/models]
 *   BODY='{"model":…}' makes it a POST; HEADERS='{"x-h":"v"}' adds headers.
 *
 * Why beside wrk: on this project's benchmark machine wrk's latency figures broke Little's law
 * (requests/s × mean latency came out 1.5–3.7 times the number of connections, even against the
 * bare upstream at one connection), so its percentiles cannot be trusted there. Here the mean
 * times requests/s equals the connections, which is the check to read first.
 */
import { Pool } from 'undici';

const [url, key, conns = '200', seconds = '10', path = '/v1/models'] = process.argv.slice(2);
if (!url || !key) throw new Error('usage: node bench/wrk/closed-loop.ts <base URL> <key> [conns] [seconds] [path]');
const body = process.env.BODY;
const headers = {
  authorization: `Bearer ${key}`,
  ...(body ? { 'content-type': 'application/json' } : {}),
  ...(JSON.parse(process.env.HEADERS ?? '{}') as Record<string, string>),
};
const pool = new Pool(url, { connections: Number(conns) });
const latencies: number[] = [];
let failed = 0;
const started = performance.now();
const end = started + Number(seconds) * 1000;

async function loop() {
  while (performance.now() < end) {
    const sent = performance.now();
    const response = await pool.request({ path, method: body ? 'POST' : 'GET', headers, body });
    await response.body.dump({ limit: Number.POSITIVE_INFINITY });
    if (response.statusCode >= 400) failed++;
    latencies.push(performance.now() - sent);
  }
}

await Promise.all(Array.from({ length: Number(conns) }, loop));
const wall = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(1);
const mean = latencies.reduce((sum, x) => sum + x, 0) / latencies.length;
const rate = latencies.length / wall;
console.log(
  `requests ${latencies.length} (failed ${failed}) | req/s ${rate.toFixed(0)} | ms p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(1)} mean ${mean.toFixed(1)} | req/s × mean ÷ conns ${((rate * mean) / 1000 / Number(conns)).toFixed(2)}`,
);
await pool.close();
