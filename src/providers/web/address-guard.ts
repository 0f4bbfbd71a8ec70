import { isIP } from 'node:net';

/**
 * Which network addresses Causerie may fetch pages from. Every address that is not plainly public
 * unicast is refused: a page fetch must never reach the host itself, the private network around
 * it, or a cloud metadata service (SSRF). Addresses embedding an IPv4 address (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4) are judged by the embedded address.
 */

type Range4 = [base: number, bits: number, why: string];

const v4 = (dotted: string) => dotted.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);

const blocked4: Range4[] = [
  [v4('0.0.0.0'), 8, 'unspecified'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'carrier-grade NAT'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link-local (cloud metadata)'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'IETF protocol assignments'],
  [v4('192.0.2.0'), 24, 'documentation'],
  [v4('192.88.99.0'), 24, '6to4 relay'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'benchmarking'],
  [v4('198.51.100.0'), 24, 'documentation'],
  [v4('203.0.113.0'), 24, 'documentation'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved or broadcast'],
];

/** The 32-bit value of a dotted IPv4 address, or undefined. */
function parse4(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((sum, part) => sum * 256 + Number(part), 0);
}

/** The eight 16-bit groups of an IPv6 address (any notation, with or without a trailing dotted IPv4). */
function parse6(address: string): number[] | undefined {
  let text = address
    .replace(/^\[|\]$/g, '')
    .split('%')[0]!
    .toLowerCase();
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const value = parse4(dotted[1]!);
    if (value === undefined) return undefined;
    text = `${text.slice(0, dotted.index)}:${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...new Array(Math.max(0, fill)).fill(0), ...tail];
  if (all.length !== 8 || all.some((g) => Number.isNaN(g)) || fill < 0 || (halves.length === 2 && fill < 1))
    return undefined;
  return all;
}

function check4(value: number): string | undefined {
  for (const [base, bits, why] of blocked4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((value & mask) >>> 0 === base) return why;
  }
  return undefined;
}

const embedded4 = (g: number[], high: number) => ((g[high]! << 16) >>> 0) + g[high + 1]!;

function check6(g: number[]): string | undefined {
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d) and IPv4-compatible (::a.b.c.d): the IPv4 address decides.
  if (zeroTo(5) && g[5] === 0xffff) return check4(embedded4(g, 6)) ?? undefined;
  if (zeroTo(4) && g[4] === 0xffff && g[5] === 0) return check4(embedded4(g, 6));
  if (zeroTo(6)) return check4(embedded4(g, 6)) ?? 'IPv4-compatible';
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address; 64:ff9b:1::/48 is local-use.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return check4(embedded4(g, 6));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'local NAT64';
  // 6to4 (2002:a.b.c.d::/16) tunnels to the embedded IPv4 address.
  if (g[0] === 0x2002) return check4(embedded4(g, 1));
  if (g[0] === 0x2001 && g[1] === 0) return 'Teredo';
  if (g[0] === 0x2001 && g[1] === 0xdb8) return 'documentation';
  if (g[0] === 0x100 && g.slice(1, 4).every((x) => x === 0)) return 'discard';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique local (private)';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'site-local';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  return undefined;
}

/** Why an IP address may not be fetched ("loopback", "private" ...), or undefined when it is public. */
export function blockedReason(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.split('%')[0]!);
  if (family === 4) return check4(parse4(bare)!);
  if (family === 6) {
    const groups = parse6(bare);
    return groups ? check6(groups) : 'unparsable';
  }
  return 'not an IP address';
}

// Cloud metadata services by name, and the two by address that are not link-local (Alibaba's, AWS's IPv6).
const metadataNames = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'metadata.azure.internal',
]);
const metadataAddresses = [v4('100.100.100.200')];
const metadata6 = parse6('fd00:ec2::254')!;

/**
 * The IPv4 address an IPv6 address carries and reaches: IPv4-mapped, -translated or -compatible,
 * NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48 read at the same /96 position) or 6to4
 * (2002::/16); else undefined.
 */
function mapped4(g: number[]): number | undefined {
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if ((zeroTo(5) && g[5] === 0xffff) || (zeroTo(4) && g[4] === 0xffff && g[5] === 0) || zeroTo(6))
    return embedded4(g, 6);
  if (g[0] === 0x64 && g[1] === 0xff9b && (g[2] === 0 || g[2] === 1)) return embedded4(g, 6);
  if (g[0] === 0x2002) return embedded4(g, 1);
  return undefined;
}

/**
 * Why an IP address is one a model provider, a search engine or a download may not connect to: a
 * link-local address (169.254.0.0/16, fe80::/10, and IPv6 forms that carry one) or a cloud
 * metadata service (100.100.100.200, fd00:ec2::254, also IPv4-mapped), unless allowlisted.
 * Loopback and private addresses pass: local model servers and intranet mirrors live there.
 */
export function linkLocalOrMetadata(address: string, allowlist: AllowEntry[]): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0]!;
  const family = isIP(bare);
  if (family === 0 || allowlisted(bare, allowlist)) return undefined;
  const groups = family === 6 ? parse6(bare) : undefined;
  if (family === 6 && !groups) return 'unparsable';
  const value4 = family === 4 ? parse4(bare) : mapped4(groups!);
  if (value4 !== undefined && metadataAddresses.includes(value4)) return 'a cloud metadata service';
  if (groups?.every((g, i) => g === metadata6[i])) return 'a cloud metadata service';
  const reason = value4 !== undefined ? check4(value4) : blockedReason(bare);
  return reason?.startsWith('link-local') ? reason : undefined;
}

/** Whether a host name is a cloud metadata service's (metadata.google.internal ...), trailing dot or not. */
export const isMetadataName = (host: string) => metadataNames.has(host.replace(/\.$/, '').toLowerCase());

/**
 * Why a configured base URL (a model provider's, a search engine's) points at a link-local address
 * or a cloud metadata service, or undefined: checked at start, as written, so a plain mistake stops
 * the server. Every connection is checked again on the address it resolves to (connect-guard.ts).
 */
export function metadataReason(url: string, allowlist: AllowEntry[]): string | undefined {
  const host = new URL(url).hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (allowlist.some((entry) => entry.kind === 'host' && entry.name === host)) return undefined;
  if (metadataNames.has(host)) return 'a cloud metadata service';
  return linkLocalOrMetadata(host, allowlist);
}

/** An allowlist entry: a CIDR range (either family) or a host name. */
export type AllowEntry =
  | { kind: 'cidr'; family: 4 | 6; groups: number[]; bits: number }
  | { kind: 'host'; name: string };

/** Parses `CAUSERIE_FETCH_ALLOWLIST` entries (comma separated): CIDRs, single addresses or host names. */
export function parseAllowlist(text: string | undefined): AllowEntry[] {
  const entries: AllowEntry[] = [];
  for (const raw of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [address, bitsText] = raw.split('/');
    const bare = address!.replace(/^\[|\]$/g, '');
    const family = isIP(bare);
    if (family === 4) {
      const value = parse4(bare)!;
      entries.push({
        kind: 'cidr',
        family: 4,
        groups: [value >>> 16, value & 0xffff],
        bits: bitsText === undefined ? 32 : Number(bitsText),
      });
    } else if (family === 6) {
      entries.push({
        kind: 'cidr',
        family: 6,
        groups: parse6(bare)!,
        bits: bitsText === undefined ? 128 : Number(bitsText),
      });
    } else {
      entries.push({ kind: 'host', name: raw.toLowerCase() });
    }
  }
  return entries;
}

function inCidr(groups: number[], entryGroups: number[], bits: number): boolean {
  for (let index = 0; index < entryGroups.length; index++) {
    const take = Math.max(0, Math.min(16, bits - index * 16));
    if (take === 0) return true;
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((groups[index]! & mask) !== (entryGroups[index]! & mask)) return false;
  }
  return true;
}

/** Whether an allowlist entry admits this IP address (IPv4-mapped IPv6 also matches IPv4 ranges). */
export function allowlisted(address: string, entries: AllowEntry[]): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  let v4groups: number[] | undefined;
  let v6groups: number[] | undefined;
  if (family === 4) {
    const value = parse4(bare)!;
    v4groups = [value >>> 16, value & 0xffff];
  } else if (family === 6) {
    v6groups = parse6(bare);
    if (v6groups?.slice(0, 5).every((x) => x === 0) && v6groups[5] === 0xffff) v4groups = v6groups.slice(6);
  }
  return entries.some((entry) => {
    if (entry.kind !== 'cidr') return false;
    const groups = entry.family === 4 ? v4groups : v6groups;
    return groups !== undefined && inCidr(groups, entry.groups, entry.bits);
  });
}
