import type { Actor } from '../users/users.service.ts';

/** A source the answer may cite as [n]: kept in the reply's metadata (`metadata.sources`). */
export interface Source {
  /** The number the model cites it by: [1], [2] ... */
  index: number;
  title: string;
  url: string;
}

/** Admits one search under the caller's limits (searches_per_day, budgets); throws a 429 AppError when refused. */
export interface SearchAdmission {
  admitSearch(actor: Actor, costMicros: number): Promise<void>;
}

/** One search, as the usage ledger records it. */
export interface SearchUsage {
  user_id: number;
  api_key_id: number | null;
  conversation_id: number | null;
  provider: string;
  results: number;
  cost_micros: number;
  status: 'complete' | 'error';
  created_at: string;
}

export interface SearchUsageRecorder {
  record(row: SearchUsage): Promise<void>;
}
