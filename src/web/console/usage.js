import { barChart, shareChart } from './chart.js';
import { field, h, table } from './dom.js';
import { api } from './session.js';

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const dayMs = 86_400_000;
const money = (value) => value.toFixed(value < 1 ? 4 : 2);
const number = (value) => value.toLocaleString('en');

/** Every day of the period, so days without calls show as empty bars rather than vanish. */
function daysOf(from, to) {
  const days = [];
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`) && days.length < 400; at += dayMs)
    days.push(isoDay(at));
  return days;
}

const keyName = (row) =>
  row.api_key_id === null ? 'Signed in (no key)' : (row.api_key_name ?? `key ${row.api_key_id}`);
const totalsRow = (line) => [number(line.requests), number(line.total_tokens), money(line.cost)];

/** Requests, tokens and cost by day, model and key over a period the user picks; admins pick whose. */
export async function usagePage(main, { me, query }) {
  const today = isoDay(Date.now());
  const from = query.get('from') ?? isoDay(Date.now() - 29 * dayMs);
  const to = query.get('to') ?? today;
  const who = query.get('user') ?? (query.get('all') === 'true' ? '*' : '');

  const fromInput = h('input', { type: 'date', name: 'from', value: from, required: true });
  const toInput = h('input', { type: 'date', name: 'to', value: to, required: true });
  const whoSelect = me.role === 'admin' ? h('select', { name: 'user' }) : null;
  if (whoSelect) {
    const { body: users } = await api('/api/v1/users?limit=100');
    whoSelect.append(
      h('option', { value: '' }, 'Me'),
      h('option', { value: '*' }, 'Everyone'),
      ...users.map((user) => h('option', { value: user.username }, user.username)),
    );
    whoSelect.value = who;
  }
  const form = h(
    'form',
    { className: 'card inline', 'aria-label': 'Period' },
    field('From', fromInput),
    field('To (included)', toInput),
    whoSelect ? field('Whose usage', whoSelect) : null,
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams({ from: fromInput.value, to: toInput.value });
    if (whoSelect?.value === '*') next.set('all', 'true');
    else if (whoSelect?.value) next.set('user', whoSelect.value);
    location.hash = `#/usage?${next}`;
  });
  main.append(form);

  const scope = new URLSearchParams({ from, to });
  if (who === '*') scope.set('all', 'true');
  else if (who) scope.set('user', who);
  const report = async (groupBy) => (await api(`/api/v1/usage?${scope}&group_by=${groupBy}`)).body;
  const [byDay, byModel, byKey, byUser] = await Promise.all([
    report('day'),
    report('model'),
    report('key'),
    who === '*' ? report('user') : null,
  ]);

  const days = daysOf(from, to);
  const lineOf = new Map(byDay.rows.map((row) => [row.day, row]));
  const series = (pick) => days.map((day) => (lineOf.has(day) ? pick(lineOf.get(day)) : 0));
  const { total } = byDay;
  const parts = [
    h(
      'p',
      { className: 'totals' },
      `${who === '*' ? 'Everyone' : who || 'You'}, ${from} to ${to}: ${number(total.requests)} requests, ${number(total.total_tokens)} tokens, cost ${money(total.cost)}; ${number(byDay.searches.count)} web searches.`,
    ),
    h(
      'section',
      { className: 'charts', 'aria-label': 'Charts by day' },
      barChart(
        'Requests per day',
        days,
        series((row) => row.requests),
        number,
      ),
      barChart(
        'Tokens per day',
        days,
        series((row) => row.total_tokens),
        number,
      ),
      barChart(
        'Cost per day',
        days,
        series((row) => row.cost),
        money,
      ),
    ),
    byDay.rows.length
      ? h(
          'section',
          { className: 'charts', 'aria-label': 'Charts by model and key' },
          shareChart(
            'Tokens by model',
            byModel.rows.map((row) => row.model),
            byModel.rows.map((row) => row.total_tokens),
            number,
          ),
          shareChart(
            'Requests by key',
            byKey.rows.map(keyName),
            byKey.rows.map((row) => row.requests),
            number,
          ),
        )
      : null,
    table(
      'By day',
      ['Day', 'Requests', 'Tokens', 'Cost'],
      byDay.rows.map((row) => [row.day, ...totalsRow(row)]),
    ),
    table(
      'By model',
      ['Model', 'Requests', 'Tokens', 'Cost'],
      byModel.rows.map((row) => [row.model, ...totalsRow(row)]),
    ),
    table(
      'By key',
      ['Key', 'Requests', 'Tokens', 'Cost'],
      byKey.rows.map((row) => [keyName(row), ...totalsRow(row)]),
    ),
    byUser
      ? table(
          'By user',
          ['User', 'Requests', 'Tokens', 'Cost'],
          byUser.rows.map((row) => [row.username, ...totalsRow(row)]),
        )
      : null,
  ];
  main.append(...parts.filter(Boolean));
}
