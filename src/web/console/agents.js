import { announce, copy, field, fill, h, table, when } from './dom.js';
import { api } from './session.js';

/** The fields of the agent form, empty or filled from an agent. */
function agentForm(models, agent, submitLabel, onSubmit) {
  const name = h('input', { name: 'name', required: true, maxlength: 200, value: agent?.name ?? '' });
  const model = h(
    'select',
    { name: 'model' },
    h('option', { value: '' }, 'The default model'),
    models.map((m) => h('option', { value: m.id }, m.id)),
  );
  model.value = agent?.model ?? '';
  const instructions = h('textarea', { name: 'instructions', rows: 4, maxlength: 100000 });
  instructions.value = agent?.instructions ?? '';
  const description = h('input', { name: 'description', maxlength: 10000, value: agent?.description ?? '' });
  const temperature = h('input', {
    name: 'temperature',
    type: 'number',
    min: 0,
    max: 2,
    step: 0.1,
    value: agent?.temperature ?? '',
  });
  const form = h(
    'form',
    { className: 'card' },
    field('Name', name),
    field('Model', model),
    field('Instructions (system prompt)', instructions),
    field('Description', description),
    field('Temperature', temperature, 'From 0 to 2; empty: the model’s default.'),
    h('button', { type: 'submit' }, submitLabel),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await onSubmit({
        name: name.value,
        model_id: model.value || null,
        instructions: instructions.value || null,
        description: description.value || null,
        temperature: temperature.value === '' ? null : Number(temperature.value),
      });
    } catch (error) {
      announce(error.message, 'error');
    }
  });
  return form;
}

const snippetOf = (key, agent) =>
  `<script src="${location.origin}/widget.js" data-public-key="${key}" data-agent="${agent.id}" data-title="${agent.name.replace(/["<>&]/g, '')}" async></script>`;

/** One agent: edit it, its public keys (with the snippet to paste), and the suspicious uses of them. */
async function agentPage(main, id, models) {
  const { body: agent } = await api(`/api/v1/models/agents/${encodeURIComponent(id)}`);
  main.querySelector('h1').textContent = `Agent ${agent.name}`;
  main.append(
    h('p', {}, h('a', { href: '#/agents' }, 'All agents')),
    h('h2', {}, 'Settings'),
    agentForm(models, agent, 'Save agent', async (fields) => {
      await api(`/api/v1/models/agents/${agent.id}`, { method: 'PATCH', body: fields });
      announce(`Agent ${fields.name} saved.`);
    }),
  );

  const origins = h('textarea', { name: 'allowed_origins', rows: 2, required: true });
  const keyName = h('input', { name: 'key_name', maxlength: 200 });
  const created = h('div', { 'aria-live': 'polite' });
  const keysBox = h('div');
  const form = h(
    'form',
    { className: 'card', 'aria-labelledby': 'new-public-key' },
    h('h3', { id: 'new-public-key' }, 'New public key'),
    field('Name', keyName),
    field('Allowed origins', origins, 'One per line, like https://shop.example (scheme, host and port).'),
    h('button', { type: 'submit' }, 'Create public key'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const allowed = origins.value.split(/[\s,]+/).filter(Boolean);
      const { body: key } = await api(`/api/v1/agents/${agent.id}/public-keys`, {
        method: 'POST',
        body: { allowed_origins: allowed, ...(keyName.value ? { name: keyName.value } : {}) },
      });
      const snippet = h('textarea', { readonly: true, rows: 3, className: 'secret', 'aria-label': 'Widget snippet' });
      snippet.value = snippetOf(key.key, agent);
      fill(
        created,
        h('p', {}, h('strong', {}, 'Paste this snippet before </body> on your page. The key is shown only once.')),
        snippet,
        h('button', { type: 'button', onclick: () => copy(snippet.value, snippet) }, 'Copy snippet'),
      );
      form.reset();
      await refreshKeys();
    } catch (error) {
      announce(error.message, 'error');
    }
  });

  async function refreshKeys() {
    const { body: keys } = await api(`/api/v1/agents/${agent.id}/public-keys`);
    fill(
      keysBox,
      table(
        'Public keys',
        ['Name', 'Key', 'Allowed origins', 'Created', 'Last used', 'Status', ''],
        keys.map((key) => [
          key.name ?? '—',
          h('code', {}, `${key.prefix}…`),
          key.allowed_origins.join(' '),
          when(key.created_at),
          when(key.last_used_at),
          key.revoked_at ? 'revoked' : 'active',
          key.revoked_at
            ? ''
            : h(
                'button',
                {
                  type: 'button',
                  className: 'danger',
                  'aria-label': `Revoke public key ${key.name ?? key.prefix}`,
                  onclick: async () => {
                    if (!confirm('Revoke this public key? Widgets using it stop at their next message.')) return;
                    await api(`/api/v1/public-keys/${key.id}`, { method: 'DELETE' });
                    await refreshKeys();
                  },
                },
                'Revoke',
              ),
        ]),
      ),
    );
  }

  const { body: events } = await api(`/api/v1/agents/${agent.id}/public-events?limit=50`);
  main.append(h('h2', {}, 'Public keys and widget'), form, created, keysBox);
  await refreshKeys();
  main.append(
    h('h2', {}, 'Suspicious uses'),
    table(
      'Refused or suspicious uses of the public keys, newest first',
      ['When', 'Reason', 'Origin', 'Visitor'],
      events.map((e) => [when(e.created_at), e.reason.replaceAll('_', ' '), e.origin ?? '—', e.visitor ?? '—']),
    ),
  );
}

/** Agents: the list and a form to create one; #/agents/<id> opens one. */
export async function agentsPage(main, { rest }) {
  const { body: models } = await api('/api/v1/models');
  if (rest[0]) return agentPage(main, rest[0], models);
  const { body: agents } = await api('/api/v1/models/agents?limit=100');
  main.append(
    table(
      'Your agents',
      ['Name', 'Model', 'Description', 'Updated'],
      agents.map((agent) => [
        h('a', { href: `#/agents/${agent.id}` }, agent.name),
        agent.model ?? 'default',
        agent.description ?? '',
        when(agent.updated_at),
      ]),
    ),
    h('h2', {}, 'New agent'),
    agentForm(models, null, 'Create agent', async (fields) => {
      const { body: agent } = await api('/api/v1/models/agents', { method: 'POST', body: fields });
      announce(`Agent ${agent.name} created.`);
      location.hash = `#/agents/${agent.id}`;
    }),
  );
}
