/**
 * The floor for any Node relay, measured beside Causerie in the same run: node:http, one key check
 * against a Set, the body piped to the upstream over a keep-alive agent and the answer piped back.
 * No parsing, no limits, no storage. Whatever Causerie costs above this is its own work.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startBareRelay(options: {
  upstreamBaseUrl: string;
  upstreamKey: string;
  key: string;
  /** Default: any free port. */
  port?: number;
}): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(options.upstreamBaseUrl);
  const keys = new Set([`Bearer ${options.key}`]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const server = http.createServer((req, res) => {
    if (!keys.has(req.headers.authorization ?? '')) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"invalid key"}}');
      return;
    }
    const up = http.request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: upstream.pathname + (req.url ?? '/').replace(/^\/v1/, ''),
        headers: {
          'content-type': req.headers['content-type'] ?? 'application/json',
          authorization: `Bearer ${options.upstreamKey}`,
        },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, { 'content-type': upRes.headers['content-type'] ?? 'application/json' });
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
