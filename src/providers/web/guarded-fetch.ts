import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import { Agent, request } from '../../lib/undici.ts';
import { allowlisted, blockedReason, type AllowEntry } from './address-guard.ts';

/** Resolves a host name to every address it has (injectable so tests can make a name resolve anywhere). */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface FetchPolicy {
  /** Fetch private, loopback and link-local addresses too (tests, intranet deployments). */
  allowPrivate: boolean;
  /** Addresses, CIDR ranges and host names allowed even though private. */
  allowlist: AllowEntry[];
  maxRedirects: number;
  resolver?: Resolver;
}

/** A page fetch Causerie refused to make (SSRF guard), or one that could not be made. */
export class FetchRefused extends Error {}

export interface GuardedResponse {
  /** The URL that finally answered (after redirects). */
  url: string;
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** Frees the connection; call once the body is read or abandoned. */
  close(): Promise<void>;
}

/**
 * The address to connect to for a URL, after the guard: an IP literal is checked as written (the
 * URL parser has already turned 2130706433, 0x7f000001, 0177.1 and 127.1 into 127.0.0.1), a name
 * is resolved and every one of its addresses must pass; the first is the one connected to.
 */
export async function vet(url: URL, policy: FetchPolicy): Promise<{ address: string; family: 4 | 6 }> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new FetchRefused(`only http and https URLs are fetched (got ${url.protocol})`);
  if (url.username || url.password) throw new FetchRefused('URLs with credentials are not fetched');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const hostAllowed = policy.allowlist.some((entry) => entry.kind === 'host' && entry.name === host.toLowerCase());
  const judge = (address: string) => {
    if (policy.allowPrivate || hostAllowed || allowlisted(address, policy.allowlist)) return;
    const why = blockedReason(address);
    if (why) throw new FetchRefused(`${url.hostname} is refused: ${address} is a ${why} address`);
  };
  const family = isIP(host);
  if (family !== 0) {
    judge(host);
    return { address: host, family: family as 4 | 6 };
  }
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = await (policy.resolver ?? systemResolver)(host);
  } catch (error) {
    throw new FetchRefused(
      `${host} could not be resolved: ${(error as { code?: string }).code ?? (error as Error).message}`,
    );
  }
  if (addresses.length === 0) throw new FetchRefused(`${host} has no address`);
  for (const { address } of addresses) judge(address);
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/**
 * GET with the SSRF guard on every hop: each URL (the first and every redirect target) is vetted,
 * and the connection is pinned to the vetted address through the agent's lookup, so a name that
 * changes its answer between the check and the connection (DNS rebinding) cannot slip through.
 * Redirects are followed by hand, at most `policy.maxRedirects`.
 */
export async function guardedGet(
  start: string,
  policy: FetchPolicy,
  options: { signal: AbortSignal; headers?: Record<string, string>; connectTimeoutMs: number },
): Promise<GuardedResponse> {
  let url: URL;
  try {
    url = new URL(start);
  } catch {
    throw new FetchRefused('not a valid URL');
  }
  for (let hop = 0; ; hop++) {
    const pinned = await vet(url, policy);
    const agent = new Agent({
      connect: {
        timeout: options.connectTimeoutMs,
        lookup: (_hostname: string, lookupOptions: { all?: boolean }, callback: (...args: unknown[]) => void) => {
          if (lookupOptions.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
          else callback(null, pinned.address, pinned.family);
        },
      } as never,
      pipelining: 0,
    });
    const close = () => agent.close().catch(() => {});
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: 'GET',
        dispatcher: agent,
        signal: options.signal,
        headers: options.headers,
      });
    } catch (error) {
      await agent.destroy().catch(() => {});
      throw error;
    }
    const location = response.headers.location;
    if (response.statusCode >= 300 && response.statusCode < 400 && location) {
      discard(response.body);
      await agent.destroy().catch(() => {});
      if (hop >= policy.maxRedirects) throw new FetchRefused(`more than ${policy.maxRedirects} redirects`);
      try {
        url = new URL(Array.isArray(location) ? location[0]! : location, url);
      } catch {
        throw new FetchRefused('redirect to an invalid URL');
      }
      continue;
    }
    return { url: url.href, statusCode: response.statusCode, headers: response.headers, body: response.body, close };
  }
}

/** Drops a body we will not read (destroying it without a listener would throw its abort error). */
export function discard(body: Dispatcher.ResponseData['body']) {
  body.on('error', () => {});
  body.destroy();
}

/** Whether an error is the guard's refusal (as opposed to a network failure). */
export const isRefusal = (error: unknown): error is FetchRefused => error instanceof FetchRefused;
