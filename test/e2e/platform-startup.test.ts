import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { createPostgresDatabase, dialects } from '../helpers/server.ts';
import { basic, repoRoot, runCauserie, runCli } from '../helpers/platform.ts';
import type { Json } from '../helpers/wire.ts';

const oldNode = '/usr/bin/node';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'causerie-start-'));
}

async function me(url: string, authorization: string) {
  const response = await fetch(`${url}/api/v1/me`, { headers: { authorization } });
  return { status: response.status, body: (await response.json()) as Json };
}

describe('start-up checks', () => {
  test('on a Node older than 22.13, bin/causerie.js exits at once with one line naming the version needed', async (t) => {
    const version = await new Promise<string>((resolve) => {
      const child = spawn(oldNode, ['--version']);
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.on('close', () => resolve(out.trim()));
    });
    if (!/^v(1\d|2[01])\.|^v22\.(\d|1[012])\./.test(version))
      return t.skip(`${oldNode} is ${version}, not an old Node`);
    const result = await runCli(['start'], {}, { node: oldNode });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.equal(
      lines[0],
      `Causerie needs Node.js 22.13 or newer (24 LTS recommended); this is Node ${version.slice(1)}.`,
    );
  });

  test('`npm start` on the old Node shows the same message', async (t) => {
    if (!existsSync('/usr/bin/npm')) return t.skip('no /usr/bin/npm');
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      // PATH without the test's Node 24: npm and the script it runs both get /usr/bin/node.
      const child = spawn('/usr/bin/npm', ['start'], { cwd: repoRoot, env: { PATH: '/usr/bin:/bin', HOME: tmpdir() } });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Causerie needs Node\.js 22\.13 or newer \(24 LTS recommended\); this is Node 2[01]\./);
    assert.ok(!/Server listening/.test(result.output));
  });

  test('a bad configuration value stops the start with a message naming the variable', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'abc' }, /^causerie: PORT must be an integer between 0 and 65535 \(got "abc"\)$/],
      [{ PORT: '70000' }, /^causerie: PORT must be an integer/],
      [
        { LOG_LEVEL: 'loud' },
        /^causerie: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)$/,
      ],
      [{ CAUSERIE_ALLOW_SIGNUP: 'maybe' }, /^causerie: CAUSERIE_ALLOW_SIGNUP must be true or false/],
      [
        { DATABASE_URL: 'mysql://causerie:hunter2@db/causerie' },
        /^causerie: DATABASE_URL must be a postgres: or postgresql: URL \(got \(hidden\)\)$/,
      ],
      [
        { CAUSERIE_TOKEN_SECRET: 'too-short' },
        /^causerie: CAUSERIE_TOKEN_SECRET must be at least 32 characters \(got \(hidden\)\)$/,
      ],
      [
        { CAUSERIE_ADMIN_PASSWORD: 'short' },
        /^causerie: CAUSERIE_ADMIN_PASSWORD must be at least 8 characters \(got \(hidden\)\)$/,
      ],
    ];
    const dataDir = tempDir();
    try {
      for (const [env, message] of cases) {
        const result = await runCli(['start'], { CAUSERIE_DATA_DIR: dataDir, ...env });
        assert.equal(result.code, 1, JSON.stringify(env));
        assert.match(result.stderr.trim(), message);
        assert.ok(!result.stderr.includes('hunter2'));
        assert.ok(!result.stdout.includes('Server listening'));
      }
      assert.ok(!existsSync(join(dataDir, 'causerie.sqlite')), 'nothing is created when the configuration is wrong');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a port already in use', () => {
  test('stops the start with one line naming the port and the setting that changes it', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const dataDir = tempDir();
    try {
      const result = await runCli(['start'], {
        CAUSERIE_DATA_DIR: dataDir,
        PORT: String(port),
        CAUSERIE_ADMIN_PASSWORD: 'long-enough-password',
      });
      assert.equal(result.code, 1);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.equal(
        lines[0],
        `causerie: port ${port} on 127.0.0.1 is already in use; set PORT to another port (or HOST to another address)`,
      );
    } finally {
      blocker.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('embedded mode (`npm start` with no configuration)', () => {
  const cwd = tempDir();
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('first start: SQLite under ./data, an admin whose credentials and first key are printed once', async () => {
    const server = runCauserie({ cwd });
    let banner: Awaited<ReturnType<typeof server.banner>> | undefined;
    try {
      const url = await server.url();
      banner = await server.banner();
      assert.equal(banner.username, 'admin');
      assert.ok(banner.password.length >= 20, 'a generated password');
      assert.match(banner.key, /^API_/);
      assert.match(server.stdout(), /This is shown once; store it now/);
      assert.ok(server.stdout().includes(`Try: curl -H "Authorization: Bearer ${banner.key}" ${url}/api/v1/me`));
      assert.ok(existsSync(join(cwd, 'data', 'causerie.sqlite')));
      assert.equal(statSync(join(cwd, 'data', 'token-secret')).mode & 0o777, 0o600);

      const byKey = await me(url, `Bearer ${banner.key}`);
      assert.equal(byKey.status, 200);
      assert.equal(byKey.body.user.role, 'admin');
      assert.equal((await me(url, basic('admin', banner.password))).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }

    // Second start on the same database: no new admin, no banner, same credentials.
    const again = runCauserie({ cwd });
    try {
      const url = await again.url();
      assert.equal((await me(url, `Bearer ${banner.key}`)).status, 200);
      const users = await fetch(`${url}/api/v1/users`, { headers: { authorization: `Bearer ${banner.key}` } });
      assert.deepEqual(
        ((await users.json()) as Array<{ username: string }>).map((u) => u.username),
        ['admin'],
      );
    } finally {
      assert.deepEqual(await again.stop(), { code: 0, signal: null });
    }
    assert.ok(!again.stdout().includes('API key:'));
    assert.ok(!again.stdout().includes(banner.password));
    // The first start found no data folder, so no compile cache; the second wrote one into it.
    assert.ok(readdirSync(join(cwd, 'data', 'compile-cache')).length > 0, 'a compile cache in the data folder');
  });

  test('the default address is 127.0.0.1:3001', async () => {
    const server = runCauserie({ cwd, env: { PORT: '', HOST: '' } });
    try {
      const listening = await server.waitForOutput(/Server listening at (\S+)"/).then(
        (match) => match[1],
        () => undefined,
      );
      // Another program may hold 3001 on this machine; then the error still names the port tried.
      if (listening) assert.equal(listening, 'http://127.0.0.1:3001');
      else assert.match(server.stderr(), /EADDRINUSE.*127\.0\.0\.1:3001/);
    } finally {
      await server.stop();
    }
  });

  test('CAUSERIE_ADMIN_USERNAME and CAUSERIE_ADMIN_PASSWORD set the first account; the password is not printed', async () => {
    const dataDir = tempDir();
    const password = 'chosen-admin-password-42';
    const server = runCauserie({
      env: { CAUSERIE_DATA_DIR: dataDir, CAUSERIE_ADMIN_USERNAME: 'root', CAUSERIE_ADMIN_PASSWORD: password },
    });
    try {
      const url = await server.url();
      const banner = await server.banner();
      assert.equal(banner.password, '(from');
      assert.match(server.stdout(), /password: \(from CAUSERIE_ADMIN_PASSWORD\)/);
      assert.ok(!server.stdout().includes(password));
      assert.equal(banner.username, 'root');
      const response = await me(url, basic('root', password));
      assert.equal(response.status, 200);
      assert.equal(response.body.user.role, 'admin');
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('cluster database (DATABASE_URL=postgres://…)', () => {
  test('the server migrates and uses PostgreSQL, and no SQLite file is created', async () => {
    const database = await createPostgresDatabase();
    const dataDir = tempDir();
    const server = runCauserie({ env: { DATABASE_URL: database.url, CAUSERIE_DATA_DIR: dataDir } });
    try {
      const url = await server.url();
      const { key } = await server.banner();
      assert.equal((await me(url, `Bearer ${key}`)).status, 200);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const { rows } = await client.query<{ username: string }>('SELECT username FROM users');
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
      );
      await client.end();
      assert.deepEqual(
        rows.map((r) => r.username),
        ['admin'],
      );
      for (const table of ['users', 'api_keys', 'refresh_tokens'])
        assert.ok(
          tables.rows.some((r) => r.table_name === table),
          table,
        );
      assert.ok(!existsSync(join(dataDir, 'causerie.sqlite')));
    } finally {
      await server.stop();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

for (const dialect of dialects) {
  describe(`the CLI creates users and keys (${dialect})`, () => {
    test('users create and keys create, then the server accepts them', async () => {
      const dataDir = tempDir();
      const database = dialect === 'postgres' ? await createPostgresDatabase() : undefined;
      const env = {
        CAUSERIE_DATA_DIR: dataDir,
        CAUSERIE_ADMIN_PASSWORD: 'cli-test-admin-password',
        ...(database ? { DATABASE_URL: database.url } : {}),
      };
      try {
        const bob = await runCli(['users', 'create', 'bob', '--password', 'bob-password-123'], env);
        assert.equal(bob.code, 0, bob.stderr);
        assert.match(bob.stdout, /^Created user "bob" \(id \d+\)\.\n$/);
        const carol = await runCli(['users', 'create', 'carol', '--admin'], env);
        assert.equal(carol.code, 0, carol.stderr);
        const carolPassword = /Password: (\S+)/.exec(carol.stdout)?.[1];
        assert.ok(carolPassword, 'a generated password is printed');
        const key = await runCli(['keys', 'create', 'BOB', '--name', 'ci', '--expires-in-days', '7'], env);
        assert.equal(key.code, 0, key.stderr);
        const bobKey = /^(API_\S+)$/m.exec(key.stdout)?.[1];
        assert.ok(bobKey, key.stdout);

        const failures: Array<[string[], number, RegExp]> = [
          [['users', 'create', 'Bob', '--password', 'another-password'], 1, /^causerie: username "Bob" is taken$/],
          [
            ['users', 'create', 'dave', '--password', 'short'],
            1,
            /^causerie: password: must be at least 8 characters$/,
          ],
          [['keys', 'create', 'nobody'], 1, /^causerie: No user "nobody"$/],
          [
            ['keys', 'create', 'bob', '--expires-in-days', 'soon'],
            2,
            /^causerie: --expires-in-days must be a whole number/,
          ],
          [['users', 'delete', 'bob'], 2, /^causerie: unknown command "users delete bob"/],
          [['users', 'create', 'erin', '--colour', 'blue'], 2, /^causerie: Unknown option '--colour'/],
        ];
        for (const [args, code, message] of failures) {
          const result = await runCli(args, env);
          assert.equal(result.code, code, args.join(' '));
          assert.match(result.stderr.trim(), message);
        }

        const server = runCauserie({ env });
        try {
          const url = await server.url();
          const byKey = await me(url, `Bearer ${bobKey}`);
          assert.equal(byKey.status, 200);
          assert.equal(byKey.body.user.username, 'bob');
          const keyRecord = await fetch(`${url}/api/v1/keys/${byKey.body.api_key_id}`, {
            headers: { authorization: `Bearer ${bobKey}` },
          });
          const record = (await keyRecord.json()) as { name: string; expires_at: string };
          assert.equal(record.name, 'ci');
          const days = (Date.parse(record.expires_at) - Date.now()) / 86_400_000;
          assert.ok(days > 6.9 && days <= 7, `expires in ${days} days`);
          assert.equal((await me(url, basic('bob', 'bob-password-123'))).status, 200);
          const asCarol = await me(url, basic('carol', carolPassword!));
          assert.equal(asCarol.body.user.role, 'admin');
        } finally {
          await server.stop();
        }
        // The CLI created users first, so no admin was bootstrapped.
        assert.ok(!server.stdout().includes('API key:'));
      } finally {
        await database?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
