import { h, when } from './dom.js';
import { api } from './session.js';

const names = {
  requests_per_minute: 'Requests this minute',
  requests_per_day: 'Requests today (UTC)',
  tokens_per_day: 'Tokens today (UTC)',
  tokens_per_month: 'Tokens this month (UTC)',
  budget_per_month: 'Budget this month',
  concurrent_streams: 'Streams open at once',
  searches_per_day: 'Web searches today (UTC)',
};

let counter = 0;

/** One limit as a labelled bar (a native meter) and its numbers in words. */
function bar(label, limit, remaining, resetsAt) {
  const id = `limit-${++counter}`;
  return h(
    'li',
    {},
    h('span', { id, className: 'limit-name' }, label),
    h('meter', {
      min: 0,
      max: limit,
      value: remaining,
      low: limit * 0.2,
      optimum: limit,
      'aria-labelledby': id,
    }),
    h(
      'span',
      { className: 'limit-text' },
      `${remaining} left of ${limit}${resetsAt ? `, renewed ${when(resetsAt)}` : ''}`,
    ),
  );
}

/** What is left of each limit: the plan's (for everything you do) and each key's own. */
export async function limitsPage(main) {
  const { body } = await api('/api/v1/limits');
  main.append(
    h('h2', {}, 'Your plan'),
    h('p', {}, body.plan ? `Your plan: ${body.plan.name}.` : 'You have no plan: only your keys’ own limits apply.'),
  );
  const planLimits = body.limits.filter((limit) => limit.scope.startsWith('user.'));
  if (planLimits.length)
    main.append(
      h(
        'ul',
        { className: 'limits' },
        planLimits.map((limit) =>
          bar(names[limit.scope.slice(5)] ?? limit.scope, limit.limit, limit.remaining, limit.resets_at),
        ),
      ),
    );

  // Each live key with limits of its own: what is left of them now.
  const { body: keys } = await api('/api/v1/keys?limit=100');
  const limited = keys.filter((key) => key.limits && !key.revoked_at && Object.keys(key.limits).length);
  main.append(h('h2', {}, 'Your keys’ own limits'));
  if (!limited.length) main.append(h('p', {}, 'None of your keys has limits of its own.'));
  for (const key of limited) {
    const { body: detail } = await api(`/api/v1/keys/${key.id}`);
    const label = key.name ?? `${key.prefix}…`;
    main.append(
      h('h3', {}, `Key ${label}`),
      h(
        'ul',
        { className: 'limits' },
        Object.entries(detail.limits).map(([metric, limit]) =>
          bar(`${names[metric] ?? metric} (key ${label})`, limit, detail.limits_remaining?.[metric] ?? limit),
        ),
      ),
    );
  }
}
