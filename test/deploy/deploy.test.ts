import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { localNginxConfig, proxySettings } from '../../deploy/nginx-config.ts';
import { freePort, nginxPath } from '../helpers/cluster.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';
import { repoRoot } from '../helpers/platform.ts';
import { createPostgresDatabase, redisUrl } from '../helpers/server.ts';

const productionConfig = readFileSync(new URL('../../deploy/nginx/causerie.conf', import.meta.url), 'utf8');

/** nginx -t on a configuration written for a folder: whether nginx accepts it, and why not. */
function nginxAccepts(config: (dir: string) => string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'causerie-nginx-check-'));
  try {
    writeFileSync(join(dir, 'nginx.conf'), config(dir));
    const run = spawnSync(nginxPath, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    return { ok: run.status === 0, output: run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/', () => {
  test('the production nginx file proxies exactly like the local cluster, and nginx accepts it', () => {
    assert.ok(productionConfig.includes(proxySettings), 'deploy/nginx/causerie.conf has the same proxy settings');
    // The production file goes in the http context; around it, what a distribution's nginx.conf provides.
    const wrapped = (dir: string) =>
      localNginxConfig({ dir, port: 1, nodePorts: [2], keepaliveSeconds: 1 }).replace(
        /upstream causerie \{[\s\S]*\n {2}\}\n\}\n$/,
        `${productionConfig.replace('listen 80;', 'listen 127.0.0.1:1;')}\n}\n`,
      );
    assert.ok(wrapped('/tmp').includes('causerie.example.org'), 'the production file was put in');
    const checked = nginxAccepts(wrapped);
    assert.ok(checked.ok, checked.output);
    const local = nginxAccepts((dir) => localNginxConfig({ dir, port: 1, nodePorts: [2, 3], keepaliveSeconds: 1 }));
    assert.ok(local.ok, local.output);
  });

  test('npm run cluster starts N nodes behind nginx, prints the URL, and stops everything on Ctrl-C', async () => {
    const database = await createPostgresDatabase();
    const prefix = uniquePrefix();
    const port = await freePort();
    const script = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('../../deploy/local-cluster.ts', import.meta.url)),
        '--nodes',
        '2',
        '--port',
        String(port),
      ],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: database.url,
          REDIS_URL: redisUrl,
          CAUSERIE_REDIS_PREFIX: prefix,
          CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
          CAUSERIE_MOCK_PROVIDER: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: whatever happens, the nodes and nginx it started are killed with it
        // (orphans holding the output pipes would keep the test run from ever ending).
        detached: true,
      },
    );
    const killAll = () => {
      try {
        process.kill(-script.pid!, 'SIGKILL');
      } catch {}
    };
    after(killAll);
    let output = '';
    script.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => script.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        script.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
          const match = /behind nginx at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
          if (match) resolve(match[1]!);
        });
        void exited.then(() => reject(new Error(`the script exited before printing its URL:\n${output}`)));
        setTimeout(() => reject(new Error(`no URL after 30 s:\n${output}`)), 30_000).unref();
      });
      assert.equal(url, `http://127.0.0.1:${port}`);
      const key = /API key:\s+(API_\S+)/.exec(output)?.[1];
      assert.ok(key, 'the first node printed the admin key');
      // Answered through nginx, by the nodes in turn: the same user from either.
      for (let i = 0; i < 4; i++) {
        const me: Response = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(me.status, 200);
        assert.equal(((await me.json()) as { user: { username: string } }).user.username, 'admin');
      }
      script.kill('SIGINT');
      const code = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(() => resolve('still running 60 s after Ctrl-C'), 60_000).unref()),
      ]);
      assert.equal(code, 0, output);
      const refused = await fetch(`${url}/healthz`).then(
        () => 'answered',
        () => 'refused',
      );
      assert.equal(refused, 'refused', 'nginx is gone too');
    } finally {
      killAll();
      await exited;
      await database.drop();
      await deleteRedisPrefix(prefix);
    }
  });
});
