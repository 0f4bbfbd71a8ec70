import { lookup as systemLookup } from 'node:dns/promises';
import { Resolver as DnsResolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import type * as Undici from 'undici';
import { Agent, buildConnector } from '../../lib/undici.ts';
import type { Config } from '../../config.ts';
import { isMetadataName, linkLocalOrMetadata, parseAllowlist, type AllowEntry } from './address-guard.ts';

/**
 * Where Causerie's own outgoing connections may go: model providers, search engines, model
 * downloads. Checked when a connection is made, on the address actually connected to (after DNS,
 * on every new connection and every redirect), so a name that resolves to a metadata service, or
 * starts to (DNS rebinding), is refused like the address written out.
 */
export interface OutboundPolicy {
  /** Addresses, CIDR ranges and host names allowed even though link-local or metadata. */
  allowlist: AllowEntry[];
  /** DNS servers (address or address:port) names are resolved with; unset: the system's resolver. */
  dnsServers?: string[];
}

/** The policy the configuration sets (CAUSERIE_FETCH_ALLOWLIST, CAUSERIE_DNS_SERVERS). */
export const outboundPolicy = (config: Pick<Config, 'fetchAllowlist' | 'dnsServers'>): OutboundPolicy => ({
  allowlist: parseAllowlist(config.fetchAllowlist),
  dnsServers: splitServers(config.dnsServers),
});

/** The default when a caller passes no policy: nothing allowlisted, the system's resolver. */
export const defaultOutboundPolicy: OutboundPolicy = { allowlist: [] };

export const splitServers = (text: string | undefined) =>
  text
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A connection the SSRF policy refused. The message names the host only; the address is kept for the logs. */
export class OutboundRefused extends Error {
  readonly code = 'ERR_OUTBOUND_REFUSED';
  readonly host: string;
  readonly address: string;
  constructor(host: string, address: string) {
    super(
      `connections to ${host} are refused: it is or resolves to a link-local or cloud metadata address (an administrator can allow it in CAUSERIE_FETCH_ALLOWLIST)`,
    );
    this.name = 'OutboundRefused';
    this.host = host;
    this.address = address;
  }
}

/** Whether an error (or its cause, as fetch wraps it) is the policy's refusal. */
export function refusalOf(error: unknown): OutboundRefused | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof OutboundRefused) return e;
  return undefined;
}

type Address = { address: string; family: number };

/** Resolves a name to all its addresses: the system's resolver (hosts file included), or the configured DNS servers. */
export function resolverFor(dnsServers: string[] | undefined): (hostname: string) => Promise<Address[]> {
  if (!dnsServers?.length) return (hostname) => systemLookup(hostname, { all: true, verbatim: true });
  const resolver = new DnsResolver();
  resolver.setServers(dnsServers);
  return async (hostname) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const found = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (found.length === 0) throw v4.status === 'rejected' ? v4.reason : (v6 as PromiseRejectedResult).reason;
    return found;
  };
}

/**
 * A `lookup` for net.connect that resolves the name and keeps only the addresses the policy
 * allows; when none is left the connection fails with OutboundRefused. A host name the allowlist
 * lists may resolve anywhere.
 */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  const resolve = resolverFor(policy.dnsServers);
  return (hostname, options, callback) => {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    const named = policy.allowlist.some((entry) => entry.kind === 'host' && entry.name === host);
    const done = callback as (error: Error | null, address?: string | Address[], family?: number) => void;
    if (!named && isMetadataName(host)) {
      done(new OutboundRefused(hostname, host));
      return;
    }
    resolve(hostname).then(
      (addresses) => {
        const wanted =
          options.family === 4 || options.family === 'IPv4'
            ? 4
            : options.family === 6 || options.family === 'IPv6'
              ? 6
              : 0;
        const allowed = addresses.filter(
          (a) => (named || !linkLocalOrMetadata(a.address, policy.allowlist)) && (!wanted || a.family === wanted),
        );
        if (allowed.length === 0) {
          const refused = addresses.find((a) => linkLocalOrMetadata(a.address, policy.allowlist));
          const error = refused
            ? new OutboundRefused(hostname, refused.address)
            : Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
          done(error);
        } else if (options.all) done(null, allowed);
        else done(null, allowed[0]!.address, allowed[0]!.family);
      },
      (error: Error) => done(error),
    );
  };
}

/**
 * An undici connector enforcing the policy: an IP address written in the URL is checked before
 * connecting (net.connect does not look those up), a name through guardedLookup.
 */
export function guardedConnector(
  policy: OutboundPolicy,
  options: Undici.buildConnector.BuildOptions = {},
): Undici.buildConnector.connector {
  const connect = buildConnector({ ...options, lookup: guardedLookup(policy) } as Undici.buildConnector.BuildOptions);
  return (target, callback) => {
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && linkLocalOrMetadata(host, policy.allowlist)) {
      process.nextTick(callback, new OutboundRefused(target.hostname, host), null);
      return;
    }
    connect(target, callback);
  };
}

/** An undici Agent whose every connection goes through the policy (search engines, downloads). */
export const guardedAgent = (
  policy: OutboundPolicy,
  options: Undici.Agent.Options & { connectTimeoutMs?: number } = {},
) => {
  const { connectTimeoutMs, ...rest } = options;
  return new Agent({ ...rest, connect: guardedConnector(policy, { timeout: connectTimeoutMs }) });
};
