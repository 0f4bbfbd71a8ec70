import { randomUUID } from 'node:crypto';

export const newUuid = () => randomUUID();

/** The largest integer id (PostgreSQL's serial is a 32-bit integer). */
export const maxId = 2_147_483_647;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Every resource has an integer id and a UUID; each surface shows the form its document uses and
 * accepts both. Returns which one a path parameter is, or undefined if it is neither.
 */
export function parseReference(raw: string): { id: number } | { uuid: string } | undefined {
  // Ids are 32-bit (PostgreSQL serial): a larger number names nothing, rather than failing the query.
  if (/^[1-9][0-9]{0,9}$/.test(raw) && Number(raw) <= maxId) return { id: Number(raw) };
  if (uuidPattern.test(raw)) return { uuid: raw.toLowerCase() };
  return undefined;
}
