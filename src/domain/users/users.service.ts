import { AppError, invalid, notFound } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { newUuid, parseReference } from '../ids.ts';
import { hashPassword } from './passwords.ts';
import type { UserRow, UsersStore } from './users.store.ts';
import { assertAdmin, isAdmin, mayAccess } from './authorization.ts';

export type Role = 'admin' | 'user';

/** Who is asking: every service call that touches owned data takes one. */
export interface Actor {
  userId: number;
  role: Role;
  /** The API key the request came through, if any. */
  apiKeyId?: number;
}

export interface User {
  id: number;
  uuid: string;
  username: string;
  role: Role;
  disabled: boolean;
  plan_id: number | null;
  created_at: string;
}

export const toUser = (row: UserRow): User => ({
  id: row.id,
  uuid: row.uuid,
  username: row.username,
  role: row.role,
  disabled: row.disabled === 1,
  plan_id: row.plan_id,
  created_at: row.created_at,
});

const usernamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$/;

export const usernameKey = (username: string) => username.toLowerCase();

/** The rules every new password follows (sign-up, password change). */
export function checkPasswordRules(field: string, password: string): void {
  if (password.length < 8) throw invalid(field, 'must be at least 8 characters');
  if (password.length > 1024) throw invalid(field, 'must be at most 1024 characters');
}

export interface UsersDeps {
  store: UsersStore;
  clock: Clock;
  allowSignup: boolean;
  /** Counts an open sign-up from this address, or throws 429 (unset: no throttle). */
  signupThrottle?: (address: string) => Promise<void>;
  /** Told when an account is disabled (its running answers are stopped). */
  onDisabled?: (userId: number) => void | Promise<void>;
}

export class UsersService {
  private readonly deps: UsersDeps;

  constructor(deps: UsersDeps) {
    this.deps = deps;
  }

  /** Creates an account. Anyone may sign up when allowed; only an admin may create admins. */
  /** Creates an account; `address` is the client's, for the sign-up throttle (admins are not throttled). */
  async create(
    actor: Actor | undefined,
    input: { username: string; password: string; role?: Role },
    address?: string,
  ): Promise<User> {
    const admin = isAdmin(actor);
    if (!admin && !this.deps.allowSignup) {
      throw new AppError('forbidden', 'Sign-up is disabled on this server; ask an administrator for an account');
    }
    if (!admin && address !== undefined) await this.deps.signupThrottle?.(address);
    if (input.role === 'admin') assertAdmin(actor, 'create administrators');
    if (!usernamePattern.test(input.username)) {
      throw invalid('username', 'must be 2 to 64 letters, digits, "_", "." or "-", starting with a letter or digit');
    }
    // Routes take a username, an id or a UUID: a user named "42" would shadow user 42.
    if (parseReference(input.username)) throw invalid('username', 'must not look like a user id or a UUID');
    checkPasswordRules('password', input.password);
    const key = usernameKey(input.username);
    if (await this.deps.store.findByUsernameKey(key))
      throw new AppError('conflict', `username "${input.username}" is taken`);
    const now = isoAt(this.deps.clock.now());
    try {
      const row = await this.deps.store.insert({
        uuid: newUuid(),
        username: input.username,
        username_key: key,
        password_hash: await hashPassword(input.password),
        role: input.role ?? 'user',
        disabled: 0,
        plan_id: null,
        created_at: now,
        updated_at: now,
      });
      return toUser(row);
    } catch (error) {
      // Two sign-ups racing for one name: the unique index decides.
      if (await this.deps.store.findByUsernameKey(key))
        throw new AppError('conflict', `username "${input.username}" is taken`);
      throw error;
    }
  }

  /** Finds a user by username, id or UUID; a user sees only themselves, an admin sees everyone. */
  async get(actor: Actor, reference: string): Promise<User> {
    const row = await this.find(reference);
    if (!row || !mayAccess(actor, row.id)) throw notFound('User');
    return toUser(row);
  }

  async find(reference: string): Promise<UserRow | undefined> {
    const byName = await this.deps.store.findByUsernameKey(usernameKey(reference));
    if (byName) return byName;
    const parsed = parseReference(reference);
    if (!parsed) return undefined;
    return 'id' in parsed ? this.deps.store.findById(parsed.id) : this.deps.store.findByUuid(parsed.uuid);
  }

  async setDisabled(actor: Actor, reference: string, disabled: boolean): Promise<User> {
    assertAdmin(actor, 'disable accounts');
    const row = await this.find(reference);
    if (!row) throw notFound('User');
    const updated = await this.deps.store.update(row.id, {
      disabled: disabled ? 1 : 0,
      updated_at: isoAt(this.deps.clock.now()),
    });
    if (disabled) await this.deps.onDisabled?.(row.id);
    return toUser(updated!);
  }

  async list(actor: Actor, page: { limit: number; offset: number }): Promise<User[]> {
    assertAdmin(actor, 'list users');
    return (await this.deps.store.list(page.limit, page.offset)).map(toUser);
  }

  count(): Promise<number> {
    return this.deps.store.count();
  }
}
