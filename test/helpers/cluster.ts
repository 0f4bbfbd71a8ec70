import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { localNginxConfig } from '../../deploy/nginx-config.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';
import { runCauserie, type CauserieProcess } from './platform.ts';
import { createPostgresDatabase, redisUrl } from './server.ts';

export const nginxPath = process.env.TEST_NGINX ?? '/usr/sbin/nginx';

/** A port free right now on loopback (nginx's configuration names the nodes' ports before they start). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface ClusterNode {
  port: number;
  url: string;
  process: CauserieProcess;
}

export interface Cluster {
  /** nginx's address: what clients use. */
  url: string;
  nodes: ClusterNode[];
  /** The first admin's API key, printed by the first node. */
  adminKey: string;
  /** SIGTERM to one node; resolves with its exit once it has drained. */
  stopNode(index: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to one node (a crash): no drain, no clean-up. */
  killNode(index: number): Promise<void>;
  /** Starts a node again on its port (after stopNode or killNode); resolves once it listens. */
  startNode(index: number): Promise<ClusterNode>;
  /** nginx's error log so far (for assertion messages). */
  nginxErrors(): string;
  stop(): Promise<void>;
}

const nginxChildren = new Set<ChildProcess>();
after(() => {
  for (const child of nginxChildren) child.kill('SIGKILL');
});

/**
 * Starts `nodes` Causerie processes sharing a fresh PostgreSQL database and a Redis key prefix of
 * their own, and nginx in front of them on loopback. `env` is added to every node's environment.
 */
export async function startCluster(options: { nodes?: number; env?: Record<string, string> } = {}): Promise<Cluster> {
  const count = options.nodes ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'causerie-cluster-'));
  const filesDir = join(dir, 'files');
  mkdirSync(filesDir);
  const prefix = uniquePrefix();
  const database = await createPostgresDatabase();
  // nginx lets idle kept-alive connections go after 1 s; a draining node keeps serving for 1.5 s
  // before it stops listening, so no connection nginx may still reuse is closed under it.
  const keepaliveSeconds = 1;
  const shared: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    CAUSERIE_REDIS_PREFIX: prefix,
    CAUSERIE_FILES_DIR: filesDir,
    CAUSERIE_MOCK_PROVIDER: 'true',
    CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
    CAUSERIE_TOKEN_SECRET: 'a-token-secret-shared-by-every-node-of-the-test',
    CAUSERIE_SHUTDOWN_DELAY_MS: '1500',
    CAUSERIE_TRUST_PROXY: '127.0.0.1',
    CAUSERIE_SHUTDOWN_GRACE: '10',
    CAUSERIE_WRITES_PER_MINUTE: '100000',
    CAUSERIE_LOG_FORMAT: 'json',
    ...options.env,
  };
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const nodes: ClusterNode[] = [];
  const launch = async (index: number): Promise<ClusterNode> => {
    const dataDir = join(dir, `node-${index}`);
    mkdirSync(dataDir, { recursive: true });
    const process = runCauserie({ env: { ...shared, CAUSERIE_DATA_DIR: dataDir, PORT: String(ports[index]) } });
    const node = { port: ports[index]!, url: '', process };
    node.url = await process.url();
    nodes[index] = node;
    return node;
  };
  // The first node creates the schema and the admin, then the others join.
  const first = await launch(0);
  const adminKey = (await first.process.waitForOutput(/API_[A-Z0-9_]+/))[0];
  await Promise.all(Array.from({ length: count - 1 }, (_, i) => launch(i + 1)));

  const nginxPort = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    localNginxConfig({ dir, port: nginxPort, nodePorts: ports, keepaliveSeconds }),
  );
  const nginx = spawn(nginxPath, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  nginxChildren.add(nginx);
  let nginxStderr = '';
  nginx.stderr!.setEncoding('utf8').on('data', (chunk: string) => (nginxStderr += chunk));
  const nginxExited = new Promise<void>((resolve) => nginx.on('close', () => resolve()));
  const url = `http://127.0.0.1:${nginxPort}`;
  await untilAnswers(`${url}/healthz`, () => nginxStderr);

  const nginxErrors = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return nginxStderr;
    }
  };
  return {
    url,
    nodes,
    adminKey,
    stopNode: (index) => nodes[index]!.process.stop(),
    async killNode(index) {
      nodes[index]!.process.child.kill('SIGKILL');
      await nodes[index]!.process.exited;
    },
    startNode: (index) => launch(index),
    nginxErrors,
    async stop() {
      nginx.kill('SIGTERM');
      await nginxExited;
      nginxChildren.delete(nginx);
      await Promise.all(nodes.map((node) => node.process.stop()));
      await database.drop();
      await deleteRedisPrefix(prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for nginx to answer (it starts in milliseconds; its stderr tells why when it does not). */
async function untilAnswers(url: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
