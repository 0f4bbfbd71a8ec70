import { announce, h, table, when } from './dom.js';
import { api } from './session.js';

const price = (prices) =>
  prices ? `${prices.input_per_million} in / ${prices.output_per_million} out per million tokens` : '—';

const encode = (id) => encodeURIComponent(id);

/** The models: availability, context window and prices; admins remove and restore them. */
export async function modelsPage(main, { me }) {
  const admin = me.role === 'admin';
  const box = h('div');
  main.append(box);

  async function refresh() {
    const { body: models } = await api('/api/v1/models');
    const rows = models.map((model) => [
      h('code', {}, model.id),
      model.available ? 'available' : `${model.status.replaceAll('_', ' ')}${model.reason ? `: ${model.reason}` : ''}`,
      model.context_window === null ? '—' : model.context_window.toLocaleString('en'),
      price(model.prices),
      ...(admin
        ? [
            h(
              'button',
              {
                type: 'button',
                className: 'danger',
                'aria-label': `Remove ${model.id}`,
                onclick: async () => {
                  if (!confirm(`Remove ${model.id}? It can be restored below.`)) return;
                  await api(`/api/v1/models/${encode(model.id)}`, { method: 'DELETE' });
                  await refresh();
                  announce(`${model.id} removed.`);
                },
              },
              'Remove',
            ),
          ]
        : []),
    ]);
    box.replaceChildren(
      table('Models', ['Model', 'Status', 'Context window (tokens)', 'Prices', ...(admin ? [''] : [])], rows),
    );
    if (!admin) return;
    const { body: removed } = await api('/api/v1/models/removed');
    box.append(
      h('h2', {}, 'Removed models'),
      table(
        'Removed models',
        ['Model', 'Removed', ''],
        removed.map((model) => [
          h('code', {}, model.id),
          when(model.removed_at),
          h(
            'button',
            {
              type: 'button',
              'aria-label': `Restore ${model.id}`,
              onclick: async () => {
                await api(`/api/v1/models/removed/${encode(model.id)}`, { method: 'DELETE' });
                await refresh();
                announce(`${model.id} restored.`);
              },
            },
            'Restore',
          ),
        ]),
      ),
    );
  }
  await refresh();
}
