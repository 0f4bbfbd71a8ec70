import fc from 'fast-check';
import { type OpenApiDocument, plansFor, type Operation, type RequestPlan } from './requests.ts';
import { problemsWith } from './checks.ts';
import type { FuzzWorld } from './world.ts';

/** The seed of this run: FUZZ_SEED replays one, else a fresh one (printed, so a failure can be replayed). */
export const fuzzSeed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

/** Every operation of an OpenAPI document, in the form the request generator reads. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const content = operation.requestBody?.content ?? {};
      const mediaType = content['application/json'] ? 'application/json' : Object.keys(content)[0];
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: operation.parameters ?? [],
        body: mediaType
          ? { mediaType, schema: content[mediaType]?.schema ?? {}, required: Boolean(operation.requestBody?.required) }
          : undefined,
        responses: operation.responses ?? {},
      });
    }
  }
  return operations;
}

const stringHash = (text: string) => [...text].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) | 0, 7);

/** The run's requests, derived from the seed only: the same seed gives the same requests in the same order. */
export function planRun(operations: Operation[], total: number, seed: number): RequestPlan[] {
  const perOperation = Math.ceil(total / operations.length);
  const lists = operations.map((operation) =>
    fc.sample(plansFor(operation, { valid: 4 }), {
      seed: seed ^ stringHash(`${operation.method} ${operation.path}`),
      numRuns: perOperation,
    }),
  );
  // Interleaved, so every route sees traffic throughout the run, in between the others'.
  const plans: RequestPlan[] = [];
  for (let i = 0; i < perOperation; i++) for (const list of lists) plans.push(list[i]!);
  return plans.slice(0, total);
}

export interface Failure {
  index: number;
  request: string;
  status: number | string;
  problems: string[];
  excerpt: string;
}

export interface RunResult {
  sent: number;
  byStatus: Record<string, number>;
  byMutation: Record<string, number>;
  failures: Failure[];
}

const describeRequest = (plan: RequestPlan, resolved: { method: string; path: string; body?: string }) =>
  `${plan.mutation} as ${plan.credential}: ${resolved.method} ${resolved.path.slice(0, 200)}${
    resolved.body !== undefined ? ` body ${JSON.stringify(resolved.body.slice(0, 200))}` : ''
  }`;

/**
 * Sends the plans with a few requests in flight on kept-alive connections; every `batch` requests
 * the world's credentials are restored, since the fuzzer may revoke any of them.
 */
export async function execute(world: FuzzWorld, plans: RequestPlan[], options = { inFlight: 8, batch: 400 }) {
  const result: RunResult = { sent: 0, byStatus: {}, byMutation: {}, failures: [] };
  for (let start = 0; start < plans.length; start += options.batch) {
    await world.restore();
    const batch = plans.slice(start, start + options.batch);
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const index = start + next;
        const plan = batch[next++]!;
        await sendOne(world, plan, index, result);
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, worker));
  }
  return result;
}

async function sendOne(world: FuzzWorld, plan: RequestPlan, index: number, result: RunResult) {
  const resolved = world.resolve(plan, index);
  result.sent++;
  result.byMutation[plan.mutation] = (result.byMutation[plan.mutation] ?? 0) + 1;
  try {
    const response = await world.pool.request({
      method: resolved.method as 'GET',
      path: resolved.path,
      headers: resolved.headers,
      body: resolved.body,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await response.body.text();
    result.byStatus[response.statusCode] = (result.byStatus[response.statusCode] ?? 0) + 1;
    const problems = problemsWith(
      plan,
      { status: response.statusCode, headers: response.headers, text },
      world.secrets,
    );
    if (problems.length)
      result.failures.push({
        index,
        request: describeRequest(plan, resolved),
        status: response.statusCode,
        problems,
        excerpt: text.slice(0, 300),
      });
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).name;
    result.byStatus[code] = (result.byStatus[code] ?? 0) + 1;
    // A server that answers an oversized request early and closes the connection may cut the
    // upload short: the client sees a reset, which is the point. Anything else is a failure.
    if (plan.mutation === 'oversized_body' || plan.mutation === 'oversized_header') return;
    result.failures.push({
      index,
      request: describeRequest(plan, resolved),
      status: code,
      problems: [`transport error ${code}: ${(error as Error).message}`],
      excerpt: '',
    });
  }
}
