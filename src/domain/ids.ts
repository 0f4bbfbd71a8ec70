import { randomUUID } from 'node:crypto';

export const newUuid = () => randomUUID();

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Every resource has an integer id and a UUID; each surface shows the form its document uses and
 * accepts both. Returns which one a path parameter is, or undefined if it is neither.
 */
export function parseReference(raw: string): { id: number } | { uuid: string } | undefined {
  if (/^[1-9][0-9]{0,14}$/.test(raw)) return { id: Number(raw) };
  if (uuidPattern.test(raw)) return { uuid: raw.toLowerCase() };
  return undefined;
}
