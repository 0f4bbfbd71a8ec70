import { AppError, invalid, notFound } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { parseReference } from '../ids.ts';
import { limitNames, type PlanLimits } from '../limits/limit-definitions.ts';
import { toUser, type Actor, type User, type UsersService } from '../users/users.service.ts';
import type { UsersStore } from '../users/users.store.ts';
import type { PlanRow, PlansStore } from './plans.store.ts';
import { assertAdmin } from '../users/authorization.ts';

/** A tier: a named set of limits assigned to users. */
export interface Plan {
  id: number;
  name: string;
  limits: PlanLimits;
  users: number;
  created_at: string;
  updated_at: string;
}

export const planLimitsOf = (row: PlanRow): PlanLimits => JSON.parse(row.limits) as PlanLimits;

/** Keeps only known limits with a value; a budget is rounded to micro-units, the rest are integers. */
export function normalizeLimits(limits: PlanLimits): PlanLimits {
  const clean: PlanLimits = {};
  for (const name of limitNames) {
    const value = limits[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw invalid(`limits.${name}`, 'must be a number \u2265 0');
    if (name !== 'budget_per_month' && !Number.isInteger(value)) throw invalid(`limits.${name}`, 'must be an integer');
    clean[name] = name === 'budget_per_month' ? Math.round(value * 1e6) / 1e6 : value;
  }
  return clean;
}

const planNamePattern = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;

export interface PlansDeps {
  store: PlansStore;
  users: UsersService;
  usersStore: UsersStore;
  clock: Clock;
  /** Called after any change that alters whose limits are what (the limits cache listens). */
  onChange: () => void | Promise<void>;
}

export class PlansService {
  private readonly deps: PlansDeps;

  constructor(deps: PlansDeps) {
    this.deps = deps;
  }

  async create(actor: Actor, input: { name: string; limits?: PlanLimits }): Promise<Plan> {
    assertAdmin(actor, 'manage plans');
    if (!planNamePattern.test(input.name))
      throw invalid('name', 'must be 1 to 64 letters, digits, spaces, "_", "." or "-"');
    if (parseReference(input.name)) throw invalid('name', 'must not look like an id');
    if (await this.deps.store.findByName(input.name))
      throw new AppError('conflict', `A plan named "${input.name}" exists already`);
    const now = isoAt(this.deps.clock.now());
    const limits = normalizeLimits(input.limits ?? {});
    try {
      const row = await this.deps.store.insert({
        name: input.name,
        limits: JSON.stringify(limits),
        created_at: now,
        updated_at: now,
      });
      // It may be the default plan (CAUSERIE_DEFAULT_PLAN) coming into existence.
      await this.deps.onChange();
      return this.present(row);
    } catch (error) {
      if (await this.deps.store.findByName(input.name))
        throw new AppError('conflict', `A plan named "${input.name}" exists already`);
      throw error;
    }
  }

  async list(actor: Actor): Promise<Plan[]> {
    assertAdmin(actor, 'manage plans');
    return Promise.all((await this.deps.store.list()).map((row) => this.present(row)));
  }

  async get(actor: Actor, reference: string): Promise<Plan> {
    assertAdmin(actor, 'manage plans');
    return this.present(await this.find(reference));
  }

  /** Renames a plan and/or replaces its limits; effective for every user on it. */
  async update(actor: Actor, reference: string, input: { name?: string; limits?: PlanLimits }): Promise<Plan> {
    assertAdmin(actor, 'manage plans');
    const row = await this.find(reference);
    const changes: { name?: string; limits?: string; updated_at: string } = {
      updated_at: isoAt(this.deps.clock.now()),
    };
    if (input.name !== undefined && input.name !== row.name) {
      if (!planNamePattern.test(input.name) || parseReference(input.name))
        throw invalid('name', 'must be 1 to 64 letters, digits, spaces, "_", "." or "-"');
      if (await this.deps.store.findByName(input.name))
        throw new AppError('conflict', `A plan named "${input.name}" exists already`);
      changes.name = input.name;
    }
    if (input.limits !== undefined) changes.limits = JSON.stringify(normalizeLimits(input.limits));
    const updated = await this.deps.store.update(row.id, changes);
    await this.deps.onChange();
    return this.present(updated!);
  }

  async remove(actor: Actor, reference: string): Promise<Plan> {
    assertAdmin(actor, 'manage plans');
    const row = await this.find(reference);
    const plan = await this.present(row);
    await this.deps.store.delete(row.id);
    await this.deps.onChange();
    return plan;
  }

  /** Puts a user on a plan (by id or name), or on none with null. */
  async assign(actor: Actor, userReference: string, planReference: string | null): Promise<User> {
    assertAdmin(actor, 'manage plans');
    const user = await this.deps.users.find(userReference);
    if (!user) throw notFound('User');
    const plan = planReference === null ? null : await this.find(planReference);
    const updated = await this.deps.usersStore.update(user.id, {
      plan_id: plan?.id ?? null,
      updated_at: isoAt(this.deps.clock.now()),
    });
    await this.deps.onChange();
    return toUser(updated!);
  }

  /** A plan by integer id or by name. */
  private async find(reference: string): Promise<PlanRow> {
    const parsed = parseReference(reference);
    const row =
      parsed && 'id' in parsed
        ? await this.deps.store.findById(parsed.id)
        : await this.deps.store.findByName(reference);
    if (!row) throw notFound('Plan');
    return row;
  }

  private async present(row: PlanRow): Promise<Plan> {
    return {
      id: row.id,
      name: row.name,
      limits: planLimitsOf(row),
      users: await this.deps.store.countUsers(row.id),
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }
}
