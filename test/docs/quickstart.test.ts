import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const doc = readFileSync(new URL('../../docs/quickstart.md', import.meta.url), 'utf8');

/** The shell commands of the walkthrough, in order, as one script. */
function walkthroughScript(markdown: string): string {
  const section = markdown.slice(
    markdown.indexOf('## Walkthrough'),
    markdown.indexOf('\n## ', markdown.indexOf('## Walkthrough') + 1),
  );
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]).join('\n');
}

const haveTools = ['curl', 'jq'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

describe('docs/quickstart.md', { skip: haveTools ? false : 'needs curl and jq' }, () => {
  let server: TestServer;
  let cwd: string;
  before(async () => {
    server = await startTestServer();
    cwd = mkdtempSync(join(tmpdir(), 'causerie-quickstart-'));
  });
  after(async () => {
    await server.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  test('every command of the walkthrough works as written', async () => {
    const script = walkthroughScript(doc).replaceAll('http://127.0.0.1:3001', server.url);
    assert.match(script, /POST \$BASE\/users/);
    // Asynchronously: the server answering the commands runs in this process.
    const run = await promisify(execFile)('bash', ['-e', '-u', '-o', 'pipefail', '-c', script], {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    }).catch((error: Error & { stdout: string; stderr: string }) =>
      assert.fail(`the walkthrough failed: ${error.message}\n${error.stderr}\n${error.stdout}`),
    );
    const out = run.stdout;
    assert.match(out, /"username": ?"alice"/);
    assert.ok(!out.includes('"password"'), 'no password in any answer');
    assert.match(out, /"token_type": ?"Bearer"/);
    assert.match(out, /"key": ?"API_/);
    for (const kind of ['api_key', 'access_token', 'basic'])
      assert.match(out, new RegExp(`"authenticated_with":"${kind}"`));
    assert.match(out, /HTTP\/1\.1 401 Unauthorized/);
    assert.match(out, /www-authenticate: Bearer realm="causerie", Basic realm="causerie"/i);
    assert.match(out, /"revoked_at": "\d{4}-/);
    assert.match(out, /This API key has been revoked/);
  });
});
