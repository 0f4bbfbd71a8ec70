import { hash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { ClusterEvent } from '../../stores/kv/cluster-events.ts';
import type { CredentialKind, Principal } from './auth.service.ts';

interface Entry {
  principal: Principal;
  /** clock time after which the entry is not used (its TTL, or the credential's own expiry if sooner). */
  until: number;
}

/**
 * Principals of recently seen API keys and access tokens, so a client's requests after the first
 * skip the key, sign-in and account lookups. Nothing in it may outlive a change: every event
 * that ends or changes a credential drops the entries it concerns in this process at once, and
 * in the others through the cluster events; while those events might be missed (no Redis
 * subscription) the cache is bypassed. Keyed by a SHA-256 of a per-process secret followed by the
 * credential, so it holds no credential and no digest that could be matched against the database.
 * Not an HMAC: the digests never leave the process, so the length extension an HMAC guards against
 * gives nothing, and an HMAC cost ~2 µs per request against ~0.3 µs for one-shot hashing.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pepper = randomBytes(32).toString('hex');
  private readonly options: { maxEntries: number; ttlMs: number; clock: Clock; trusted: () => boolean };
  /** Bumped by every drop: a lookup that began before one must not store what it read. */
  private generation = 0;
  /** The digest used or stored last: the entry already at the end of the map. */
  private newest: string | undefined;

  constructor(options: PrincipalCache['options']) {
    this.options = options;
  }

  get enabled(): boolean {
    return this.options.maxEntries > 0 && this.options.ttlMs > 0;
  }

  digest(credential: string): string {
    return hash('sha256', this.pepper + credential, 'base64');
  }

  get(digest: string): Principal | undefined {
    if (!this.enabled || !this.options.trusted()) return undefined;
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    if (entry.until <= this.options.clock.now()) {
      this.entries.delete(digest);
      return undefined;
    }
    // Most recently used last, so the oldest is the first to go when full. A client's requests
    // mostly follow one another: the entry is then already last, and moving it (a delete and a set
    // of the map) cost more than the lookup.
    if (digest !== this.newest) {
      this.entries.delete(digest);
      this.entries.set(digest, entry);
      this.newest = digest;
    }
    return entry.principal;
  }

  /** The generation to hand back to set(): read it before looking the credential up. */
  begin(): number {
    return this.generation;
  }

  /** Remembers a principal until the TTL or `expiresAt` (ms), unless something was dropped since `generation`. */
  set(digest: string, principal: Principal, generation: number, expiresAt = Number.POSITIVE_INFINITY): void {
    if (!this.enabled || generation !== this.generation || !this.options.trusted()) return;
    const until = Math.min(this.options.clock.now() + this.options.ttlMs, expiresAt);
    this.entries.delete(digest);
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(digest, { principal, until });
    this.newest = digest;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Applies a cluster event: drops what it concerns. */
  apply(event: ClusterEvent): void {
    if (event.type === 'keys-revoked' || event.type === 'keys-changed') {
      const ids = new Set(event.keyIds);
      this.drop((p) => p.apiKeyId !== undefined && ids.has(p.apiKeyId));
    } else if (event.type === 'user-disabled') {
      this.drop((p) => p.userId === event.userId);
    } else if (event.type === 'sign-ins-revoked') {
      this.drop((p) => p.userId === event.userId && p.via === ('access_token' satisfies CredentialKind));
    } else {
      // A plan changed (principals show the user's plan), or events may have been missed.
      this.drop(() => true);
    }
  }

  private drop(matches: (principal: Principal) => boolean): void {
    this.generation++;
    for (const [digest, entry] of this.entries) if (matches(entry.principal)) this.entries.delete(digest);
  }
}
