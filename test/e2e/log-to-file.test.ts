import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const binPath = fileURLToPath(new URL('../../bin/causerie.js', import.meta.url));

describe('logs written to a file', () => {
  test('standard output redirected to a file gets one line per request, none lost on shutdown', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'causerie-log-file-'));
    const logPath = join(dataDir, 'causerie.log');
    const fd = openSync(logPath, 'w');
    const child = spawn(process.execPath, [binPath, 'start'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOST: '127.0.0.1',
        PORT: '0',
        CAUSERIE_AUTO_PULL: 'false',
        CAUSERIE_DATA_DIR: dataDir,
        CAUSERIE_ADMIN_PASSWORD: 'admin-secret-for-the-log-file',
      },
      stdio: ['ignore', fd, 'inherit'],
    });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let url: string | undefined;
      for (let i = 0; i < 600 && !url; i++) {
        url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(logPath, 'utf8'))?.[1];
        if (!url) await sleep(100);
      }
      assert.ok(url, readFileSync(logPath, 'utf8'));
      const requests = 200;
      for (let batch = 0; batch < requests; batch += 50) {
        const statuses = await Promise.all(
          Array.from(
            { length: 50 },
            async (_, i) =>
              (await fetch(`${url}/api/v1/me`, { headers: { 'x-request-id': `file-${batch + i}` } })).status,
          ),
        );
        assert.ok(statuses.every((status) => status === 401));
      }
      // Stopped at once: lines still waiting for their write are written by the exit.
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { reqId?: string; msg?: string });
      const mine = lines.filter((line) => line.reqId?.startsWith('file-'));
      assert.equal(mine.length, requests, 'one line per request');
      assert.ok(mine.every((line) => line.msg === 'request completed'));
      assert.ok(lines.some((line) => line.msg === 'shutting down: finishing in-flight requests'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
