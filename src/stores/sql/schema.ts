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
  /** The key this one was created with, if any: it bounds this key's life and usage. */
  parent_key_id: number | null;
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

export interface AgentsTable {
  id: Generated<number>;
  uuid: string;
  user_id: number;
  name: string;
  /** The public model id it answers with; null uses the default model. */
  model: string | null;
  instructions: string | null;
  description: string | null;
  /** JSON of its generation settings (temperature, top_p, max_tokens). */
  settings: string;
  /** JSON of OpenAI-shaped tool definitions, or null. */
  tools: string | null;
  metadata: string;
  provider_agent_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** What a public key (an api_keys row of kind 'public') serves: one agent, with per-visitor limits. */
export interface PublicKeysTable {
  api_key_id: number;
  agent_id: number;
  /** JSON of the visitor limits (requests per minute, messages per conversation, tokens per day). */
  visitor_limits: string;
}

export interface PublicKeyOriginsTable {
  api_key_id: number;
  /** A web origin (scheme://host[:port]) allowed to use the key. */
  origin: string;
}

/** A client token of a public conversation: only its hash is kept. */
export interface PublicTokensTable {
  id: Generated<number>;
  hash: string;
  api_key_id: number;
  agent_id: number;
  conversation_id: number;
  origin: string;
  /** The anonymous visitor id it was issued to. */
  visitor: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
}

/** A refused, suspicious use of a public key or client token, for the agent's owner to read. */
export interface PublicKeyEventsTable {
  id: Generated<number>;
  api_key_id: number;
  agent_id: number;
  token_id: number | null;
  reason: string;
  origin: string | null;
  visitor: string | null;
  created_at: Timestamp;
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

/** One web search (the query itself is not kept). */
export interface SearchRecordsTable {
  id: Generated<number>;
  user_id: number;
  api_key_id: number | null;
  conversation_id: number | null;
  provider: string;
  results: number;
  cost_micros: number;
  status: 'complete' | 'error';
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

export interface PromptsTable {
  id: Generated<number>;
  /** Null for the built-in templates. */
  user_id: number | null;
  title: string;
  content: string;
  scenario: string | null;
  description: string | null;
  /** JSON object. */
  metadata: string;
  is_template: Flag;
  usage_count: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DocumentsTable {
  id: Generated<number>;
  uuid: string;
  user_id: number;
  conversation_id: number;
  filename: string;
  mime_type: string;
  file_size: number;
  /** Hex SHA-256 of the content: the stored file's name. */
  sha256: string;
  page_count: number;
  extracted_text: string;
  /** JSON object (pages extracted, whether the text was cut). */
  metadata: string;
  created_at: Timestamp;
}

export interface DocumentChunksTable {
  id: Generated<number>;
  document_id: number;
  conversation_id: number;
  user_id: number;
  chunk_index: number;
  text: string;
  token_estimate: number;
  page_from: number;
  page_to: number;
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

/** A request's `Idempotency-Key`, per user: what the first request with it produced. */
export interface IdempotencyKeysTable {
  id: Generated<number>;
  user_id: number;
  key: string;
  /** A hash of the route and body: the same key with another request is refused. */
  fingerprint: string;
  conversation_id: number | null;
  /** The assistant reply the request produced, once admitted. */
  reply_id: number | null;
  /** JSON array of the ids of the messages the request appended. */
  message_ids: string | null;
  created_at: string;
  updated_at: string;
}

export interface Database {
  idempotency_keys: IdempotencyKeysTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  refresh_tokens: RefreshTokensTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  usage_records: UsageRecordsTable;
  search_records: SearchRecordsTable;
  plans: PlansTable;
  removed_models: RemovedModelsTable;
  agents: AgentsTable;
  public_keys: PublicKeysTable;
  public_key_origins: PublicKeyOriginsTable;
  public_tokens: PublicTokensTable;
  public_key_events: PublicKeyEventsTable;
  prompts: PromptsTable;
  documents: DocumentsTable;
  document_chunks: DocumentChunksTable;
  search_index: SearchIndexTable;
  search_jobs: SearchJobsTable;
}
