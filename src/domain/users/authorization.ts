import { AppError } from '../errors.ts';
import type { Actor } from './users.service.ts';

/** Whether the actor is an administrator. */
export const isAdmin = (actor: Actor | undefined): boolean => actor?.role === 'admin';

/** Refuses (403) what only an administrator may do; `action` completes "Only an administrator can ...". */
export function assertAdmin(actor: Actor | undefined, action: string): void {
  if (!isAdmin(actor)) throw new AppError('forbidden', `Only an administrator can ${action}`);
}

/**
 * Whether the actor may see a resource owned by `ownerId`: its owner or an administrator. Callers
 * answer 404 otherwise, so someone else's resource looks exactly like one that does not exist.
 */
export const mayAccess = (actor: Actor, ownerId: number | null | undefined): boolean =>
  isAdmin(actor) || ownerId === actor.userId;
