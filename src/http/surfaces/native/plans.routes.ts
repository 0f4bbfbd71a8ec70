import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, requireAdmin, security } from '../../auth.ts';
import { authErrors, ErrorBody, UserReference } from '../../schemas/common.ts';
import { AssignPlanBody, CreatePlanBody, PlanBody, UpdatePlanBody } from '../../schemas/limits.ts';
import { UserBody } from '../../schemas/users.ts';

/** Plans (tiers): named sets of limits, created and assigned by administrators. */
export function registerPlansRoutes(app: App, services: Services) {
  const admin = { onRequest: [authenticate(services), requireAdmin] };
  const tags = ['plans and limits'];
  const errors = { ...authErrors, 403: ErrorBody, 409: ErrorBody };
  const PlanParams = Type.Object({
    plan: Type.String({ description: 'Plan id or name', minLength: 1, maxLength: 64 }),
  });

  app.post(
    '/api/v1/plans',
    {
      ...admin,
      schema: {
        tags,
        security,
        summary: 'Create a plan (admin)',
        body: CreatePlanBody,
        response: { 201: PlanBody, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await services.plans.create(principalOf(request), request.body)),
  );

  app.get(
    '/api/v1/plans',
    {
      ...admin,
      schema: { tags, security, summary: 'List plans (admin)', response: { 200: Type.Array(PlanBody), ...errors } },
    },
    async (request) => services.plans.list(principalOf(request)),
  );

  app.get(
    '/api/v1/plans/:plan',
    {
      ...admin,
      schema: {
        tags,
        security,
        summary: 'Read a plan (admin)',
        params: PlanParams,
        response: { 200: PlanBody, ...errors },
      },
    },
    async (request) => services.plans.get(principalOf(request), request.params.plan),
  );

  app.patch(
    '/api/v1/plans/:plan',
    {
      ...admin,
      schema: {
        tags,
        security,
        summary: "Rename a plan or replace its limits (admin); applies to its users' next requests",
        params: PlanParams,
        body: UpdatePlanBody,
        response: { 200: PlanBody, ...errors },
      },
    },
    async (request) => services.plans.update(principalOf(request), request.params.plan, request.body),
  );

  app.delete(
    '/api/v1/plans/:plan',
    {
      ...admin,
      schema: {
        tags,
        security,
        summary: 'Delete a plan (admin); its users are left without one',
        params: PlanParams,
        response: { 200: PlanBody, ...errors },
      },
    },
    async (request) => services.plans.remove(principalOf(request), request.params.plan),
  );

  app.put(
    '/api/v1/users/:username/plan',
    {
      ...admin,
      schema: {
        tags,
        security,
        summary: 'Put a user on a plan, or on none with {"plan": null} (admin)',
        params: Type.Object({ username: UserReference }),
        body: AssignPlanBody,
        response: { 200: UserBody, ...errors },
      },
    },
    async (request) => {
      const plan = request.body.plan;
      return services.plans.assign(principalOf(request), request.params.username, plan === null ? null : String(plan));
    },
  );
}
