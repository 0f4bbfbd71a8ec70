/**
 * The shapes tests read from responses. A response body is decoded JSON whose shape is what the test checks,
 * so it stays open (`Json`); the objects the tests pick out of it get these names.
 */

// biome-ignore lint/suspicious/noExplicitAny: a decoded body is checked by the assertions that read its fields.
export type Json = any;

export interface WireMessage {
  id: number;
  uuid: string;
  role: string;
  content: string;
  status: string;
}

export interface WireSession {
  id: number;
  uuid: string;
  model: string;
  updated_at: string;
  metadata: { public?: boolean };
  messages: WireMessage[];
}

export interface WireSearchHit {
  kind: 'message' | 'document';
  message_id: number;
  conversation_id: number;
  conversation_title: string;
  role: string;
  model: string;
  snippet: string;
  score: number;
  document: { file_id: string };
}

export interface WirePrompt {
  title: string;
  scenario: string;
  is_template: boolean;
}

export interface WireAgent {
  id: number;
  name: string;
}

export interface WireConversation {
  id: string;
  conversation_id: number;
}

export interface WireLimit {
  scope: string;
  limit: number;
  used: number;
  remaining: number;
}
