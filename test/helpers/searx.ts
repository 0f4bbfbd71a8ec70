import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A loopback HTTP server with a handler; `url` is its origin. */
export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

export async function startLoopback(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<LoopbackServer> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port free on 127.0.0.1 right now (for a child process that cannot be given port 0). */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export interface Searx {
  /** The instance's base URL, for CAUSERIE_SEARXNG_URL. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's searx (SearXNG's predecessor, same JSON API) on a free loopback port with one
 * engine only: searx's generic json_engine pointed at `engineUrl` (`GET engineUrl?q=…` answering
 * `{"results":[{url,title,content}]}`). Resolves once searx answers a JSON search.
 */
export async function startSearx(engineUrl: string): Promise<Searx> {
  const dir = mkdtempSync(join(tmpdir(), 'causerie-searx-'));
  const port = await freePort();
  const settings = `use_default_settings: false
general: {debug: false, instance_name: causerie-test, contact_url: false, enable_stats: false}
brand: {git_url: '', git_branch: '', issue_url: '', docs_url: '', public_instances: '', wiki_url: '', twitter_url: ''}
search: {safe_search: 0, autocomplete: '', default_lang: '', ban_time_on_fail: 0, max_ban_time_on_fail: 0, prefer_configured_language: false, formats: [html, json]}
server: {port: ${port}, bind_address: 127.0.0.1, secret_key: 'causerie-test-${Math.random().toString(36).slice(2)}', base_url: false, image_proxy: false, http_protocol_version: '1.0', method: GET, limiter: false}
ui: {static_path: /usr/share/python3-searx/static, templates_path: /usr/share/python3-searx/templates, default_theme: oscar, default_locale: '', theme_args: {oscar_style: logicodev}}
outgoing: {request_timeout: 5.0, useragent_suffix: '', pool_connections: 10, pool_maxsize: 10}
result_proxy: {}
botdetection: {ip_limit: {link_token: false}}
locales: {en: English}
doi_resolvers: {doi.org: 'https://doi.org/'}
default_doi_resolver: doi.org
engines:
  - name: scripted
    engine: json_engine
    shortcut: sc
    categories: general
    search_url: ${engineUrl}?q={query}
    results_query: results
    url_query: url
    title_query: title
    content_query: content
    timeout: 5.0
    enable_http: true
`;
  const settingsPath = join(dir, 'settings.yml');
  writeFileSync(settingsPath, settings);
  const child: ChildProcess = spawn('searx-run', [], {
    env: { ...process.env, SEARX_SETTINGS_PATH: settingsPath },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // searx takes a few seconds to load its engines; poll until a JSON search answers (or it exits).
  const deadline = Date.now() + 60_000;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    try {
      const response = await fetch(`${url}/search?q=ready&format=json`, { signal: AbortSignal.timeout(2000) });
      if (response.ok && (await response.json()).results) return { url, stop };
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`searx did not start: ${log}`);
}
