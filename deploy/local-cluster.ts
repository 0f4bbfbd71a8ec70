/**
 * `npm run cluster -- --nodes 3`: a local cluster to try, N Causerie nodes on loopback behind
 * nginx, sharing the PostgreSQL of DATABASE_URL and the Redis of REDIS_URL. Prints the URL;
 * Ctrl-C drains and stops everything. Not for production (see docs/deployment.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { localNginxConfig } from './nginx-config.ts';

const usage = `Usage: npm run cluster -- [--nodes N] [--port P] [--nginx PATH]
  --nodes   Causerie nodes to start (default 3)
  --port    port nginx listens on, on 127.0.0.1 (default 8080)
  --nginx   the nginx binary (default /usr/sbin/nginx)
Needs DATABASE_URL (PostgreSQL) and REDIS_URL, e.g.
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/causerie REDIS_URL=redis://127.0.0.1:6379 npm run cluster`;

const bin = fileURLToPath(new URL('../bin/causerie.js', import.meta.url));
// Below the nodes' drain delay, so a draining node never closes a connection nginx may reuse.
const keepaliveSeconds = 2;
const drainDelayMs = 3000;
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves once something accepts connections on the port (nginx has bound it), or fails after 15 s. */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`nginx is not listening on port ${port} after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Copies a child's output to ours, each line prefixed with its name; resolves the listening line's URL. */
function relay(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        process.stdout.write(`[${name}] ${line}\n`);
        const listening = /Server listening at (http:\/\/\S+)/.exec(line);
        if (listening) resolve(listening[1]!);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(`[${name}] ${chunk}`));
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before listening`)));
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '3' },
      port: { type: 'string', default: '8080' },
      nginx: { type: 'string', default: '/usr/sbin/nginx' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(usage);
  const count = Number(values.nodes);
  const port = Number(values.port);
  if (!Number.isInteger(count) || count < 1 || count > 16)
    throw new Error('--nodes must be a whole number from 1 to 16');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('--port must be a port number');
  if (!process.env.DATABASE_URL || !process.env.REDIS_URL)
    throw new Error('DATABASE_URL and REDIS_URL must be set: the nodes share one PostgreSQL and one Redis');

  const dir = mkdtempSync(join(tmpdir(), 'causerie-local-cluster-'));
  const filesDir = join(dir, 'files');
  mkdirSync(filesDir);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping: the nodes drain, then nginx stops.');
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  const env = {
    ...process.env,
    HOST: '127.0.0.1',
    CAUSERIE_FILES_DIR: filesDir,
    CAUSERIE_TOKEN_SECRET: process.env.CAUSERIE_TOKEN_SECRET ?? randomBytes(36).toString('base64'),
    CAUSERIE_SHUTDOWN_DELAY_MS: String(drainDelayMs),
    CAUSERIE_TRUST_PROXY: '127.0.0.1',
    CAUSERIE_AUTO_PULL: process.env.CAUSERIE_AUTO_PULL ?? 'false',
  };
  const nodePorts = await Promise.all(Array.from({ length: count }, () => freePort()));
  const startNode = (index: number) => {
    const dataDir = join(dir, `node-${index + 1}`);
    mkdirSync(dataDir);
    const child = spawn(process.execPath, [bin, 'start'], {
      env: { ...env, PORT: String(nodePorts[index]), CAUSERIE_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return relay(child, `node${index + 1}`);
  };
  // The first node migrates the database and, on an empty one, prints the admin's credentials.
  await startNode(0);
  await Promise.all(Array.from({ length: count - 1 }, (_, i) => startNode(i + 1)));

  writeFileSync(join(dir, 'nginx.conf'), localNginxConfig({ dir, port, nodePorts, keepaliveSeconds }));
  const nginx = spawn(values.nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(nginx);
  nginx.once('exit', (code) => {
    if (!stopping) {
      console.error(`nginx exited (code ${code}); is port ${port} free? Try --port.`);
      void stop();
    }
  });
  // The URL is printed only once nginx answers on it.
  await listening(port);
  console.log(
    `\nCauserie cluster: ${count} node(s) behind nginx at http://127.0.0.1:${port} (nodes on ${nodePorts.join(', ')}).` +
      `\nnginx's error log: ${dir}/error.log. Ctrl-C stops everything.`,
  );
}

main().catch((error: Error) => {
  console.error(`cluster: ${error.message}\n\n${usage}`);
  for (const child of children) child.kill('SIGTERM');
  process.exitCode = 1;
});
