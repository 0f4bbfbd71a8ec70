import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/*
 * The parts of undici Causerie uses (a pool, an agent, `request`), loaded by path. Its entry point
 * loads all of it: fetch, WebSocket, caches, mocks and, through its File and Blob checks, Node's own
 * bundled copy of undici: ~9 MiB more at rest for code a server never runs. The paths are undici's
 * CommonJS files, pinned by the lockfile; the provider and web-fetch tests go through each of them.
 */
const load = createRequire(import.meta.url);
const Dispatcher = load('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// What the entry point does too: request() and stream() are the API added to every dispatcher.
Object.assign(Dispatcher.prototype, load('undici/lib/api/index.js') as object);

export const Pool = load('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
const { getGlobalDispatcher } = load('undici/lib/global.js') as { getGlobalDispatcher(): Undici.Dispatcher };

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method?: Undici.Dispatcher.HttpMethod;
  dispatcher?: Undici.Dispatcher;
};

/** undici's `request(url, options)`: one request through the given dispatcher, else the global one. */
export function request(url: string | URL, options: RequestOptions = {}): Promise<Undici.Dispatcher.ResponseData> {
  const target = new URL(url);
  const { dispatcher = getGlobalDispatcher(), method, ...rest } = options;
  return dispatcher.request({
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: method ?? (rest.body ? 'PUT' : 'GET'),
  });
}
