import type { Generated } from 'kysely';

/** Timestamps are ISO-8601 UTC strings with milliseconds: ordered as text, identical on both dialects. */
export type Timestamp = string;
/** Booleans are stored as 0/1 integers on both dialects. */
export type Flag = number;

export interface UsersTable {
  id: Generated<number>;
  uuid: string;
  username: string;
  username_key: string;
  password_hash: string;
  role: 'admin' | 'user';
  disabled: Flag;
  plan_id: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: Generated<number>;
  uuid: string;
  user_id: number;
  name: string | null;
  prefix: string;
  hash: string;
  kind: 'secret' | 'public';
  /** JSON of the key's own limits (tighter than the owner's plan), or null. */
  limits: string | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface RefreshTokensTable {
  id: Generated<number>;
  user_id: number;
  hash: string;
  family: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface ConversationsTable {
  id: Generated<number>;
  uuid: string;
  user_id: number;
  api_key_id: number | null;
  title: string | null;
  model: string | null;
  agent_id: number | null;
  system_prompt: string | null;
  metadata: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The process generating a reply here (a random token), while its lease holds. */
  stream_owner: string | null;
  stream_lease_until: Timestamp | null;
}

export interface MessagesTable {
  id: Generated<number>;
  uuid: string;
  conversation_id: number;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  model: string | null;
  status: 'complete' | 'streaming' | 'cancelled' | 'error';
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** JSON of what the reply was built from (sources, chunks, agent), or null. */
  metadata: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UsageRecordsTable {
  id: Generated<number>;
  user_id: number;
  api_key_id: number | null;
  conversation_id: number | null;
  model: string;
  provider: string;
  prompt_tokens: number;
  completion_tokens: number;
  /** Cost in micro-units of the price currency (1e-6), so sums stay exact integers. */
  cost_micros: number;
  status: 'complete' | 'cancelled' | 'error';
  created_at: Timestamp;
}

export interface PlansTable {
  id: Generated<number>;
  name: string;
  /** JSON of the plan's limits. */
  limits: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RemovedModelsTable {
  model_id: string;
  removed_at: Timestamp;
}

/** One searchable text (a message now; document chunks later), owned by a user. */
export interface SearchIndexTable {
  id: Generated<number>;
  /** What source_id points at: 'message' (messages.id) or, later, 'chunk'. */
  kind: string;
  source_id: number;
  user_id: number;
  conversation_id: number | null;
  content: string;
  created_at: Timestamp;
  /** The embedding model whose vector this row holds, or null while it has none. */
  embedding_model: string | null;
}

/** The durable queue of index rows waiting for their vector. */
export interface SearchJobsTable {
  id: Generated<number>;
  index_id: number;
  state: 'pending' | 'failed';
  attempts: number;
  /** Not claimed before this time (backoff after a failure). */
  run_after: Timestamp;
  /** A worker holds the job until then; a dead worker's job is claimed again afterwards. */
  locked_until: Timestamp | null;
  last_error: string | null;
}

export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  refresh_tokens: RefreshTokensTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  usage_records: UsageRecordsTable;
  plans: PlansTable;
  removed_models: RemovedModelsTable;
  search_index: SearchIndexTable;
  search_jobs: SearchJobsTable;
}
