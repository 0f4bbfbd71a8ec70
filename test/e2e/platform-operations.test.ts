import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { dialects, postgresAdminUrl, startTestServer, type TestServer } from '../helpers/server.ts';

/** The value of one Prometheus sample, or undefined when the series does not exist. */
function sample(exposition: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

for (const dialect of dialects) {
  describe(`health and readiness (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ dialect });
    });
    after(() => server.stop());

    test('/healthz says the process is up; /readyz that the database answers', async () => {
      const health = await server.api('/healthz', { auth: null });
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok' });
      const ready = await server.api('/readyz', { auth: null });
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ready' });
    });

    if (dialect === 'postgres') {
      test('/readyz answers 503 once the database is gone, while /healthz stays up', async () => {
        const name = new URL(server.env.DATABASE_URL!).pathname.slice(1);
        const admin = new pg.Client({ connectionString: postgresAdminUrl });
        await admin.connect();
        await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
        await admin.end();
        const ready = await server.api('/readyz', { auth: null });
        assert.equal(ready.status, 503);
        assert.deepEqual(ready.body, { status: 'database unreachable' });
        assert.equal((await server.api('/healthz', { auth: null })).status, 200);
      });
    }
  });
}

describe('metrics and pages', () => {
  let server: TestServer;
  before(async () => {
    // The mock provider gives the home page a model to list.
    server = await startTestServer({ env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
  });
  after(() => server.stop());

  test('/metrics counts requests and their latency by method, route pattern and status', async () => {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const key = { method: 'GET', route: '/api/v1/keys/:key_id', status: '404' };
    const start = sample(before, 'causerie_http_requests_total', key) ?? 0;
    await server.api('/api/v1/keys/999');
    await server.api('/api/v1/keys/998');
    await server.api('/healthz');
    await server.api('/no/such/route/12345');
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    // Labelled by the route pattern, not the URL: ids do not multiply the series.
    assert.equal(sample(text, 'causerie_http_requests_total', key), start + 2);
    assert.equal(
      sample(text, 'causerie_http_requests_total', { method: 'GET', route: '/api/v1/keys/999', status: '404' }),
      undefined,
    );
    assert.ok(sample(text, 'causerie_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })! >= 1);
    assert.ok(sample(text, 'causerie_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })! >= 1);
    assert.ok(!text.includes('12345'), 'unknown URLs are not labels');
    assert.equal(sample(text, 'causerie_http_request_duration_seconds_count', key), start + 2);
    assert.equal(sample(text, 'causerie_http_request_duration_seconds_bucket', { ...key, le: '+Inf' }), start + 2);
    assert.ok(sample(text, 'causerie_http_request_duration_seconds_sum', key)! > 0);
    assert.match(text, /^process_cpu_seconds_total /m);
    // How late the event loop ran since the previous scrape, and each remote provider's connections.
    for (const quantile of ['0.5', '0.99', 'max'])
      assert.ok(sample(text, 'causerie_event_loop_delay_seconds', { quantile })! >= 0, quantile);
    // Node's usual lag metrics too, read off the same monitor (before its first sample "Nan" or a huge minimum, as prom-client writes them).
    for (const name of ['', '_min', '_max', '_mean', '_stddev', '_p50', '_p90', '_p99'])
      assert.match(text, new RegExp(`^nodejs_eventloop_lag${name}_seconds (Nan|[0-9.e+-]+)$`, 'm'), name);
    await server.api('/v1/chat/completions', {
      method: 'POST',
      body: { model: 'mock/echo', messages: [{ role: 'user', content: 'hello' }] },
    });
    const after = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(sample(after, 'causerie_provider_connections_active', { provider: 'mock' }), 0);
    assert.equal(sample(after, 'causerie_provider_connection_timeouts_total', { provider: 'mock' }), 0);
  });

  test('with CAUSERIE_METRICS_TOKEN set, /metrics answers only that bearer token', async () => {
    const guarded = await startTestServer({ env: { CAUSERIE_METRICS_TOKEN: 'scraper-token-0123456789' } });
    try {
      for (const authorization of [undefined, 'Bearer wrong-token', `Bearer ${guarded.adminKey}`]) {
        const response = await fetch(`${guarded.url}/metrics`, { headers: authorization ? { authorization } : {} });
        assert.equal(response.status, 401, authorization);
        assert.equal((await response.json()).code, 'unauthorized');
      }
      const allowed = await fetch(`${guarded.url}/metrics`, {
        headers: { authorization: 'Bearer scraper-token-0123456789' },
      });
      assert.equal(allowed.status, 200);
      assert.match(await allowed.text(), /causerie_http_requests_total/);
    } finally {
      await guarded.stop();
    }
  });

  test('the home page says what the server is, lists the configured models and links to the docs', async () => {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const html = await response.text();
    assert.match(html, /<h1>Causerie<\/h1>/);
    assert.match(html, /self-hostable chat API server/);
    for (const link of ['/api/v1/docs', '/api/v1/redoc', '/api/v1/openapi.json', '/about'])
      assert.ok(html.includes(`href="${link}"`), link);
    assert.match(html, /<tr><td><code>mock\/echo<\/code><\/td><td>mock<\/td><td>available<\/td><\/tr>/);
    for (const model of await server.services.models.list())
      assert.ok(html.includes(`<code>${model.id}</code>`), model.id);
    assert.ok(!/<(script|link)[^>]+(src|href)="https?:/.test(html), 'no external assets');
  });

  test('/about says what Causerie is and its version', async () => {
    const response = await fetch(`${server.url}/about`);
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.match(html, /About Causerie/);
    assert.ok(html.includes(server.services.version));
  });

  test('/admin is a 302 to the Rickroll (the sessions dialect)', async () => {
    const response = await fetch(`${server.url}/admin`, { redirect: 'manual' });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), 'https://www.youtube.com/watch?v=dQw4w9WgXcQ');
  });
});
