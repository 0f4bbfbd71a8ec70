import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { startScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { basic, runCauserie } from '../helpers/platform.ts';
import { createTestDatabase, dialects } from '../helpers/server.ts';
import { writeModelsConfig } from '../e2e/conversations-helpers.ts';

/**
 * Secrets at rest: a whole flow (sign-up, sign-in, Basic, API keys and a key made with a key,
 * access and refresh tokens, a public key and a visitor's client token, provider keys from the
 * environment, chats streamed and not) runs against a real process; then its SQLite files (with
 * their journals), every text column of every PostgreSQL table, every other file of the data
 * folder and every log line it wrote are searched for each secret used. None may be there in
 * plain text. (The first-start box prints the admin's password and key once, on purpose: it is
 * not a log line and is left out.)
 */
for (const dialect of dialects) {
  describe(`no secret is stored or logged in plain text (${dialect})`, () => {
    test('after a full flow, the database, the data folder and the logs hold none of the secrets used', async () => {
      const upstream = await startScriptedUpstream();
      const models = writeModelsConfig();
      const database = await createTestDatabase(dialect);
      const secrets: Record<string, string> = {
        'OpenAI key': 'sk-openai-secret-for-the-scan-5f1e2d',
        'Mistral key': 'mistral-secret-for-the-scan-8a7b6c',
        'Brave key': 'brave-secret-for-the-scan-3c2b1a',
        'token secret': 'token-signing-secret-for-the-scan-0123456789abcdef',
        'admin password': 'admin-password-for-the-scan-42',
      };
      const run = runCauserie({
        env: {
          ...database.env,
          LOG_LEVEL: 'debug',
          CAUSERIE_LOG_FORMAT: 'json',
          CAUSERIE_CONFIG: models.path,
          CAUSERIE_MODELS_REFRESH: '0',
          OPENAI_BASE_URL: upstream.baseUrl,
          OPENAI_API_KEY: secrets['OpenAI key']!,
          MISTRAL_BASE_URL: upstream.baseUrl,
          MISTRAL_API_KEY: secrets['Mistral key']!,
          BRAVE_SEARCH_BASE_URL: upstream.url,
          BRAVE_SEARCH_API_KEY: secrets['Brave key']!,
          CAUSERIE_TOKEN_SECRET: secrets['token secret']!,
          CAUSERIE_ADMIN_PASSWORD: secrets['admin password']!,
        },
      });
      try {
        const url = await run.url();
        const banner = await run.banner();
        secrets['admin key'] = banner.key;
        const call = async (
          path: string,
          init: { method?: string; auth?: string; body?: unknown; headers?: Record<string, string> } = {},
        ) => {
          const response = await fetch(`${url}${path}`, {
            method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
            headers: {
              ...(init.auth ? { authorization: init.auth } : {}),
              ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
              ...init.headers,
            },
            body: init.body === undefined ? undefined : JSON.stringify(init.body),
          });
          const text = await response.text();
          assert.ok(response.status < 400, `${path}: ${response.status} ${text}`);
          return text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text;
        };
        const password = 'a-user-password-for-the-scan-77';
        secrets['user password'] = password;
        const user = await call('/users', { body: { username: 'scanned', password } });
        const userBasic = basic('scanned', password);
        await call('/api/v1/me', { auth: userBasic });
        const key = await call('/api/v1/keys', { auth: userBasic, body: { name: 'scan' } });
        secrets['API key'] = key.key;
        const child = await call('/api/v1/keys', { auth: `Bearer ${key.key}`, body: { name: 'child' } });
        secrets['child API key'] = child.key;
        const form = (body: Record<string, string>) =>
          fetch(`${url}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(body),
          }).then((r) => r.json() as Promise<{ access_token: string; refresh_token: string }>);
        const tokens = await form({ grant_type: 'password', username: 'scanned', password });
        const refreshed = await form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
        Object.assign(secrets, {
          'access token': tokens.access_token,
          'refresh token': tokens.refresh_token,
          'second access token': refreshed.access_token,
          'second refresh token': refreshed.refresh_token,
        });
        const session = await call('/api/v1/sessions', {
          auth: `Bearer ${tokens.access_token}`,
          body: { model: 'gpt-4' },
        });
        await call(`/api/v1/sessions/${session.id}/models/completions`, {
          auth: `Bearer ${key.key}`,
          body: { prompt: 'remember the purple walrus' },
        });
        await call('/v1/chat/completions', {
          auth: `Bearer ${refreshed.access_token}`,
          body: { model: 'gpt-4', stream: true, messages: [{ role: 'user', content: 'stream me' }] },
        });
        const agent = await call('/api/v1/models/agents', { auth: userBasic, body: { name: 'Shop', model: 'gpt-4' } });
        const publicKey = await call(`/api/v1/agents/${agent.id}/public-keys`, {
          auth: userBasic,
          body: { allowed_origins: ['https://shop.example'] },
        });
        secrets['public key'] = publicKey.key;
        const browser = { origin: 'https://shop.example', 'user-agent': 'Mozilla/5.0 Scanner/1.0' };
        const minted = await call(`/v1/chat/conversation/public/message/token/${agent.id}`, {
          auth: `Bearer ${publicKey.key}`,
          headers: browser,
        });
        secrets['client token'] = minted.token;
        await call('/v1/chat/conversation/public/message', {
          body: { client_token: minted.token, message: 'hi' },
          headers: browser,
        });
        await call(`/v1/chat/conversation/public/messages/${minted.token}`, { headers: browser });
        // Wrong credentials are logged as failures: their text must not be.
        for (const wrong of [`Bearer ${key.key}x`, basic('scanned', `${password}x`)])
          await fetch(`${url}/api/v1/me`, { headers: { authorization: wrong } }).then((r) => r.arrayBuffer());
        await call('/oauth/revoke', { body: { token: refreshed.refresh_token } });
        assert.ok(user.id);
      } finally {
        await run.stop();
        await upstream.close();
        models.remove();
      }

      const found: string[] = [];
      // A control: the text of a chat is stored in plain text, so the scan must find it.
      let controlSeen = false;
      const search = (where: string, text: string) => {
        if (text.includes('purple walrus')) controlSeen = true;
        for (const [name, secret] of Object.entries(secrets))
          if (text.includes(secret)) found.push(`${name} in ${where}`);
      };
      const logs = run.stdout().replace(/┌[\s\S]*?┘/, '') + run.stderr();
      assert.ok(logs.split('\n').length > 20, 'the process logged');
      search('the logs', logs);
      const dataDir = database.env.CAUSERIE_DATA_DIR!;
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) walk(path);
          else search(path.slice(dataDir.length), readFileSync(path).toString('latin1'));
        }
      };
      walk(dataDir);
      if (dialect === 'postgres') {
        const client = new pg.Client({ connectionString: database.env.DATABASE_URL });
        await client.connect();
        const columns = await client.query(
          `SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea')`,
        );
        assert.ok(columns.rows.length > 20, `${columns.rows.length} text columns`);
        for (const { table_name, column_name } of columns.rows) {
          const rows = await client.query(`SELECT "${column_name}"::text AS value FROM "${table_name}"`);
          search(`${table_name}.${column_name}`, rows.rows.map((r) => r.value ?? '').join('\n'));
        }
        await client.end();
      }
      await database.drop();
      assert.ok(controlSeen, 'the scan read no stored conversation: it would miss secrets too');
      assert.deepEqual(found, []);
    });
  });
}
