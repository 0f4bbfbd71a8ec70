import { createHmac } from 'node:crypto';
import { randomBase32 } from '../secrets.ts';
import type { KeyLimits } from '../api-keys/api-keys.service.ts';
import type { VisitorLimits } from './visitor-limits.ts';

/** A public key as its owner sees it (never its hash; the key itself only once, at creation). */
export interface PublicKey {
  id: number;
  uuid: string;
  agent_id: number;
  agent_uuid: string;
  name: string | null;
  prefix: string;
  allowed_origins: string[];
  /** The key's own limits over all its visitors, charged by the limits gate like any key's. */
  limits: KeyLimits | null;
  visitor_limits: VisitorLimits;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A refused use of a public key or client token, as the agent's owner sees it. */
export interface PublicKeyEvent {
  id: number;
  public_key_id: number;
  reason: SuspiciousReason;
  origin: string | null;
  visitor: string | null;
  created_at: string;
}

/** Why a public use was refused and recorded (docs/public-agents.md explains each). */
export type SuspiciousReason =
  | 'origin_not_allowed'
  | 'origin_mismatch'
  | 'visitor_mismatch'
  | 'expired_token_replayed'
  | 'revoked_token_replayed'
  | 'key_revoked'
  | 'burst';

/** What the server knows of the browser calling a public route. */
export interface PublicClient {
  /** The Origin header, if any. */
  origin: string | undefined;
  address: string;
  userAgent: string | undefined;
}

/** Public keys are meant to sit in a web page: PUB_ and eight groups of four base32 characters (160 bits). */
export const generatePublicKey = () => `PUB_${randomBase32().match(/.{4}/g)!.join('_')}`;
export const looksLikePublicKey = (credential: string) => credential.startsWith('PUB_');

/** Client tokens: 256 random bits, base32, recognisable in logs by their prefix. */
export const generateClientToken = () => `pct_${randomBase32(32)}`;

/**
 * The visitor a token is bound to: a keyed hash of the client address and user agent. Keyed with
 * the server's secret, so the few billion IPv4 addresses cannot be tried against it offline.
 */
export function visitorOf(secret: string, client: PublicClient): string {
  return createHmac('sha256', secret)
    .update(`${client.address}\n${client.userAgent ?? ''}`)
    .digest('hex');
}

/** The anonymous id a conversation shows its owner: a short, stable stand-in for the visitor. */
export const anonymousId = (visitor: string) => `visitor_${visitor.slice(0, 16)}`;

/** A web origin as browsers send it: scheme, host, port, nothing else; undefined when it is not one. */
export function normalizeOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin === value.replace(/\/$/, '') ? url.origin : undefined;
}
