/**
 * The atomic store behind quotas and rate limits. Two implementations share these
 * semantics exactly: in process (embedded mode) and Redis (cluster mode, Lua scripts).
 *
 * A reservation checks every item and applies all of them, or none: no other reservation can
 * interleave between the check and the increment, on one node or many.
 */

/**
 * One limit a reservation must fit in.
 * - `counter`: a windowed counter (requests, tokens, cost); fits when current + amount <= limit.
 * - `flexible`: a token counter whose amount is the shared grant: the largest amount up to the
 *   requested worst case that fits in every flexible item (at least `flexibleMin`).
 * - `lease`: a set of live leases (concurrent streams); fits when fewer than `limit` are live.
 * `ttlMs` is how long the key must live from now (to the window's end, or the lease's expiry).
 */
export type LimitItem =
  | { kind: 'counter'; key: string; limit: number; amount: number; ttlMs: number }
  | { kind: 'flexible'; key: string; limit: number; ttlMs: number }
  | { kind: 'lease'; key: string; limit: number; ttlMs: number };

export interface ReserveRequest {
  items: LimitItem[];
  /** The caller's clock, so lease expiry follows the same time as the windows. */
  now: number;
  /** Identifies this reservation's leases, to release them. */
  leaseId: string;
  /** The worst case asked for the flexible items. */
  flexibleWant: number;
  /** The least grant worth having; below it the reservation is refused. */
  flexibleMin: number;
}

export type ReserveResult =
  /** `before[i]`: item i's value before this reservation; `grant`: the flexible amount applied. */
  | { ok: true; grant: number; before: number[] }
  /** Every item that did not fit: its index and its current value. */
  | { ok: false; failures: Array<{ index: number; current: number }> };

export interface SettleRequest {
  /** Counter corrections (actual - reserved); a key that has expired is left alone. */
  adjust: Array<{ key: string; delta: number }>;
  /** Lease sets this reservation holds a lease in. */
  leases: string[];
  leaseId: string;
}

export interface LimitCounters {
  readonly kind: 'memory' | 'redis';
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  settle(request: SettleRequest): Promise<void>;
  /** Current values (a lease set counts its live leases at `now`); 0 for a missing key. */
  read(items: Array<{ kind: LimitItem['kind']; key: string }>, now: number): Promise<number[]>;
  /** Adds to counters, creating them with the given lifetime (used to rebuild from the ledger). */
  add(entries: Array<{ key: string; amount: number; ttlMs: number }>, now: number): Promise<void>;
  /** Resolves when the store answers within `timeoutMs` (readiness checks), else rejects. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
