import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/main.ts';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("the SQLite data folder is its owner's only", () => {
  const root = mkdtempSync(join(tmpdir(), 'causerie-permissions-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  async function start(dataDir: string) {
    let printed = '';
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_DATA_DIR: dataDir,
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
    });
    const server = await startServer(config, { print: (text) => (printed += text), logger: false });
    await fetch(`${server.url}/healthz`);
    return { server, printed };
  }

  test('a new data folder is created 700, the database and its journal files 600', async () => {
    const dataDir = join(root, 'fresh', 'data');
    const { server, printed } = await start(dataDir);
    try {
      assert.equal(modeOf(dataDir), 0o700);
      const database = join(dataDir, 'causerie.sqlite');
      assert.equal(modeOf(database), 0o600);
      for (const journal of [`${database}-wal`, `${database}-shm`])
        if (existsSync(journal)) assert.equal(modeOf(journal), 0o600, journal);
      assert.doesNotMatch(printed, /Warning/);
    } finally {
      await server.close();
    }
  });

  test('a data folder other users can read is reported at start-up', async () => {
    const dataDir = join(root, 'shared');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const { server, printed } = await start(dataDir);
    try {
      assert.match(printed, /Warning: the data folder .* can be read by other local users; run chmod 700 on it/);
      assert.equal(modeOf(join(dataDir, 'causerie.sqlite')), 0o600);
    } finally {
      await server.close();
    }
  });
});
