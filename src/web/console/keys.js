import { announce, copy, field, fill, h, table, when } from './dom.js';
import { api } from './session.js';

const limitFields = [
  ['requests_per_minute', 'Requests per minute'],
  ['requests_per_day', 'Requests per day'],
  ['tokens_per_day', 'Tokens per day'],
  ['tokens_per_month', 'Tokens per month'],
];

const statusOf = (key) =>
  key.revoked_at ? 'revoked' : key.expires_at && Date.parse(key.expires_at) <= Date.now() ? 'expired' : 'active';

const limitsText = (limits) =>
  limits
    ? Object.entries(limits)
        .map(([name, value]) => `${name.replaceAll('_', ' ')}: ${value}`)
        .join(', ')
    : 'plan only';

/** API keys: create one with limits and an expiry, copy it once, see when it was last used, revoke it. */
export async function keysPage(main) {
  const name = h('input', { name: 'name', maxlength: 200 });
  const days = h('input', { name: 'expires_in_days', type: 'number', min: 1, max: 3650, inputmode: 'numeric' });
  const limitInputs = limitFields.map(([id, label]) => [
    id,
    h('input', { name: id, type: 'number', min: 0, inputmode: 'numeric' }),
    label,
  ]);
  const created = h('div', { className: 'created', 'aria-live': 'polite' });
  const list = h('div');

  const form = h(
    'form',
    { className: 'card', 'aria-labelledby': 'new-key-title' },
    h('h2', { id: 'new-key-title' }, 'New key'),
    field('Name', name),
    field('Expires in (days)', days, 'Empty: never expires.'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Limits of this key (empty: none beyond your plan)'),
      limitInputs.map(([, input, label]) => field(label, input)),
    ),
    h('button', { type: 'submit' }, 'Create key'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const limits = {};
    for (const [id, input] of limitInputs) if (input.value !== '') limits[id] = Number(input.value);
    const body = {
      ...(name.value ? { name: name.value } : {}),
      ...(days.value ? { expires_in_days: Number(days.value) } : {}),
      ...(Object.keys(limits).length ? { limits } : {}),
    };
    try {
      const { body: key } = await api('/api/v1/keys', { method: 'POST', body });
      const shown = h('input', { readonly: true, value: key.key, className: 'secret', 'aria-label': 'The new key' });
      fill(
        created,
        h('p', {}, h('strong', {}, 'Copy this key now: it is shown only once.')),
        h(
          'div',
          { className: 'copy-row' },
          shown,
          h('button', { type: 'button', onclick: () => copy(key.key, shown) }, 'Copy key'),
        ),
      );
      form.reset();
      await refresh();
      shown.focus();
      shown.select();
    } catch (error) {
      announce(error.message, 'error');
    }
  });

  async function refresh() {
    const { body: keys } = await api('/api/v1/keys?limit=100');
    fill(
      list,
      table(
        'Your API keys',
        ['Name', 'Key', 'Status', 'Created', 'Expires', 'Last used', 'Limits', ''],
        keys.map((key) => [
          key.name ?? '—',
          h('code', {}, `${key.prefix}…`),
          statusOf(key),
          when(key.created_at),
          when(key.expires_at),
          when(key.last_used_at),
          limitsText(key.limits),
          statusOf(key) === 'revoked'
            ? ''
            : h(
                'button',
                {
                  type: 'button',
                  className: 'danger',
                  'aria-label': `Revoke key ${key.name ?? key.prefix}`,
                  onclick: async () => {
                    if (!confirm(`Revoke ${key.name ?? key.prefix}? Programs using it stop at once.`)) return;
                    await api(`/api/v1/keys/${key.id}`, { method: 'DELETE' });
                    await refresh();
                    announce(`Key ${key.name ?? key.prefix} revoked.`);
                  },
                },
                'Revoke',
              ),
        ]),
      ),
    );
  }

  main.append(form, created, list);
  await refresh();
}
