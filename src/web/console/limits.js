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

/** What is left of each limit that applies to the signed-in user, as bars. */
export async function limitsPage(main) {
  const { body } = await api('/api/v1/limits');
  main.append(
    h('p', {}, body.plan ? `Your plan: ${body.plan.name}.` : 'You have no plan: only your keys’ own limits apply.'),
  );
  if (!body.limits.length) {
    main.append(h('p', {}, 'No limit applies to you.'));
    return;
  }
  const list = h('ul', { className: 'limits' });
  body.limits.forEach((limit, index) => {
    const [source, metric] = limit.scope.split('.');
    const label = `${names[metric] ?? metric} (${source === 'user' ? 'plan' : 'key'})`;
    const id = `limit-${index}`;
    list.append(
      h(
        'li',
        {},
        h('span', { id, className: 'limit-name' }, label),
        h('meter', {
          min: 0,
          max: limit.limit,
          value: limit.remaining,
          low: limit.limit * 0.2,
          optimum: limit.limit,
          'aria-labelledby': id,
        }),
        h(
          'span',
          { className: 'limit-text' },
          `${limit.remaining} left of ${limit.limit}${limit.resets_at ? `, renewed ${when(limit.resets_at)}` : ''}`,
        ),
      ),
    );
  });
  main.append(list);
}
