import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestServer } from './server.ts';
import type { Json } from './wire.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const binPath = fileURLToPath(new URL('../../bin/causerie.js', import.meta.url));

/** An Authorization header for HTTP Basic. */
export const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

export interface SignedUpUser {
  id: number;
  uuid: string;
  username: string;
  password: string;
  /** Basic credentials of the user, ready for `auth`. */
  basic: string;
}

/** Creates an account through open sign-up (POST /users), as a stranger would. */
export async function signUp(
  server: TestServer,
  username: string,
  password = `${username}-password-123`,
): Promise<SignedUpUser> {
  const response = await server.api('/users', { method: 'POST', body: { username, password }, auth: null });
  if (response.status !== 201) throw new Error(`sign-up of ${username} failed: ${response.status} ${response.text}`);
  return { id: response.body.id, uuid: response.body.uuid, username, password, basic: basic(username, password) };
}

/** Creates an API key with the given credentials and returns the full key and its record. */
export async function createKey(
  server: TestServer,
  auth: string,
  body: Record<string, unknown> = {},
): Promise<{ key: string; id: number; body: Json }> {
  const response = await server.api('/api/v1/keys', { method: 'POST', body, auth });
  if (response.status !== 201) throw new Error(`key creation failed: ${response.status} ${response.text}`);
  return { key: response.body.key, id: response.body.id, body: response.body };
}

/** Gets an access and refresh token with the password grant. */
export async function passwordGrant(server: TestServer, username: string, password: string) {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }),
  });
  const body = (await response.json()) as {
    access_token: string;
    refresh_token: string;
    expires_in: number;
    token_type: string;
  };
  if (response.status !== 200) throw new Error(`password grant failed: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** A Causerie started through bin/causerie.js as its own process, with its output captured. */
export interface CauserieProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (rejects if the process exits first). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The listening URL, read from the "Server listening at" log line. */
  url(): Promise<string>;
  /** The first-start box (printed before the listening line and any request): username, password when generated, first key. */
  banner(): Promise<{ username: string; password: string; key: string }>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Servers a failed assertion left running are killed when the test file ends, so no test run hangs.
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Runs `node bin/causerie.js <args>` with exactly `env` (plus PATH), so no variable of the test's
 * own environment leaks in. `node` defaults to the Node running the tests.
 */
export function runCauserie(options: {
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  node?: string;
}): CauserieProcess {
  const child = spawn(options.node ?? process.execPath, [binPath, ...(options.args ?? ['start'])], {
    cwd: options.cwd ?? repoRoot,
    // CAUSERIE_AUTO_PULL off: no test downloads the default local model from the network.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_AUTO_PULL: 'false',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const check of waiters) check();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exitedNow = false;
  // 'close' rather than 'exit': it fires once stdout and stderr are fully read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      exitedNow = true;
      children.delete(child);
      resolve({ code, signal });
      for (const check of waiters) check();
    }),
  );
  const waitForOutput = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`)),
        timeoutMs,
      );
      const finish = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (error) reject(error);
        else resolve(match!);
      };
      const check = () => {
        const match = out.match(pattern);
        if (match) finish(undefined, match);
        else if (exitedNow)
          finish(new Error(`process exited before printing ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForOutput,
    exited,
    url: async () => (await waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1]!,
    async banner() {
      const [box] = await waitForOutput(/┌[\s\S]*?┘/);
      return {
        username: /username: (\S+)/.exec(box)![1]!,
        password: /password: (\S+)/.exec(box)![1]!,
        key: /API key:\s+(API_\S+)/.exec(box)![1]!,
      };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a CLI command to completion and returns its output. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; node?: string } = {},
) {
  const run = runCauserie({ args, env, ...options });
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
