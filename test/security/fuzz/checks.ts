import { Ajv } from 'ajv';
import type { Operation, RequestPlan } from './requests.ts';

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
const validatorOf = (schema: object) => {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
};

/** Each surface's error shape, for statuses a route answers without a schema of its own. */
const surfaceShapes = {
  native: {
    type: 'object',
    required: ['detail', 'code'],
    properties: { detail: { type: 'string' }, code: { type: 'string' } },
  },
  openai: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['message', 'type', 'code'] } },
  },
  oauth: { type: 'object', required: ['error', 'error_description'] },
};
const surfaceOf = (path: string) =>
  /^\/v1\/(chat\/completions|models|embeddings)/.test(path)
    ? 'openai'
    : path.startsWith('/oauth/')
      ? 'oauth'
      : 'native';

// 5xx answers that describe the server's set-up (no web search engine, a model not downloaded,
// the provider down), documented on the routes that can give them. Anything else is a failure.
const serviceStates = /"(web_search_unavailable|model_unavailable|upstream_error|upstream_timeout)"/;

// What a stack trace or an internal path looks like in a body.
const leakPatterns = [/\n\s+at .+[(:]\d+:\d+/, /node:internal/, /\/src\/[a-z/-]+\.ts/, /node_modules\//];

export interface Observed {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** What is wrong with one answer, or nothing. */
export function problemsWith(plan: RequestPlan, response: Observed, secrets: Iterable<string>): string[] {
  const problems: string[] = [];
  const operation: Operation = plan.operation;
  const { status, text } = response;
  // A mutated path (a "/" or ".." in a parameter) can leave the route: that is the router's 404.
  const unknownRoute = status === 404 && /"Route [A-Z]+ /.test(text);
  if (status >= 500 && !(operation.responses[String(status)] && serviceStates.test(text)))
    problems.push(`answered ${status}`);
  else if (!unknownRoute && !operation.responses[String(status)] && !operation.responses.default)
    problems.push(`answered ${status}, which the OpenAPI document does not list for this route`);
  const contentType = String(response.headers['content-type'] ?? '');
  if (status >= 400 && status !== 499) {
    if (!contentType.startsWith('application/json')) problems.push(`error with content-type "${contentType}"`);
    else {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        problems.push('error body is not JSON');
      }
      const documented = operation.responses[String(status)]?.content?.['application/json']?.schema;
      const schema = unknownRoute || !documented ? surfaceShapes[surfaceOf(operation.path)] : documented;
      if (body !== undefined && !validatorOf(schema)(body))
        problems.push(`error body not in the documented shape: ${ajv.errorsText(validatorOf(schema).errors)}`);
    }
  }
  for (const pattern of leakPatterns) if (pattern.test(text)) problems.push(`body leaks ${pattern}`);
  const headerText = Object.entries(response.headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
  for (const secret of secrets) {
    if (secret.length >= 8 && (text.includes(secret) || headerText.includes(secret)))
      problems.push(`echoes a secret (${secret.slice(0, 6)}…)`);
  }
  const publicRoute = operation.path.includes('/public/') || operation.path === '/widget.js';
  if (!publicRoute && response.headers['access-control-allow-origin'] !== undefined)
    problems.push('CORS header on a private route');
  return problems;
}
