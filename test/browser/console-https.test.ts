import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { signInToConsole } from '../helpers/console-page.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { writeSelfSignedCertificate } from '../helpers/tls.ts';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves once something accepts connections on the port (nginx has started), or fails after ~10 s. */
async function accepting(port: number, exited: () => boolean) {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (exited()) throw new Error('nginx exited before it listened');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(socket.end() && true));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** The console behind nginx terminating TLS, as deployed: the cookie must be Secure, the Origin check must pass. */
describe('the console behind a TLS-terminating nginx (chromium)', () => {
  let server: TestServer;
  let nginx: ChildProcess;
  let exited = false;
  let folder: string;
  let origin: string;
  let bareOrigin: string;
  let chromium: { browser: Browser; close(): Promise<void> };

  before(async () => {
    server = await startTestServer();
    folder = mkdtempSync(join(tmpdir(), 'causerie-nginx-'));
    writeSelfSignedCertificate(folder);
    const port = await freePort();
    const barePort = await freePort();
    origin = `https://127.0.0.1:${port}`;
    bareOrigin = `https://127.0.0.1:${barePort}`;
    writeFileSync(
      join(folder, 'nginx.conf'),
      `daemon off;
pid ${folder}/nginx.pid;
error_log ${folder}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${folder}/body;
  proxy_temp_path ${folder}/proxy;
  fastcgi_temp_path ${folder}/fastcgi;
  uwsgi_temp_path ${folder}/uwsgi;
  scgi_temp_path ${folder}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${folder}/cert.pem;
    ssl_certificate_key ${folder}/key.pem;
    location / {
      proxy_pass ${server.url};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_buffering off;
    }
  }
  # Left at nginx's default, the Host header names the upstream, not the address the browser used.
  server {
    listen 127.0.0.1:${barePort} ssl;
    ssl_certificate ${folder}/cert.pem;
    ssl_certificate_key ${folder}/key.pem;
    location / {
      proxy_pass ${server.url};
    }
  }
}
`,
    );
    nginx = spawn('nginx', ['-p', folder, '-c', join(folder, 'nginx.conf')], { stdio: 'ignore' });
    nginx.once('exit', () => (exited = true));
    await accepting(port, () => exited);
    await accepting(barePort, () => exited);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    if (nginx && !exited) {
      const gone = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGTERM');
      await gone;
    }
    await server?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  test('signing in over HTTPS sets a Secure cookie that renews the sign-in after a reload', async () => {
    const context = await chromium.browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await signInToConsole(page, origin, 'admin', server.adminPassword);
      const [cookie] = await context.cookies(`${origin}/console/token`);
      assert.deepEqual(
        [cookie?.name, cookie?.secure, cookie?.httpOnly, cookie?.sameSite, cookie?.path],
        ['causerie_console', true, true, 'Strict', '/console/token'],
      );
      await page.reload();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.deepEqual(await context.cookies(`${origin}/console/token`), []);
    } finally {
      await context.close();
    }
  });

  test('a proxy that does not forward the Host header gets a sign-in refusal that says why', async () => {
    const context = await chromium.browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(`${bareOrigin}/console`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(server.adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .getByRole('alert')
        .filter({
          hasText:
            'Origin does not match this server: the console signs in from its own page only (behind a proxy, forward the Host header) (403)',
        })
        .waitFor();
      assert.deepEqual(await context.cookies(`${bareOrigin}/console/token`), []);
    } finally {
      await context.close();
    }
  });
});
