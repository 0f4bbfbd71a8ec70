import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** A free loopback port. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
}

// In cluster mode every limit lives in Redis: a node that cannot reach it must leave the load balancer.
describe('/readyz in cluster mode checks Redis', () => {
  let redis: ChildProcess;
  let server: TestServer;
  before(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const client = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
    client.on('error', () => {}); // refused until redis-server is up; the ping below waits for it
    await client.ping();
    client.disconnect();
    server = await startTestServer({ dialect: 'postgres', env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
  });
  after(async () => {
    redis.kill('SIGKILL');
    await server.stop();
  });

  test('ready while Redis answers; 503 once it is gone, while /healthz stays up', async () => {
    assert.deepEqual((await server.api('/readyz', { auth: null })).body, { status: 'ready' });
    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const ready = await server.api('/readyz', { auth: null });
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { status: 'limits store unreachable' });
    assert.equal((await server.api('/healthz', { auth: null })).status, 200);
  });
});
