import { announce, download, field, h, table, when } from './dom.js';
import { api } from './session.js';

const pageSize = 20;
const entities = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescapeHtml = (text) => text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => entities[entity]);

/** A search snippet (escaped text with <mark> around matches) as nodes, never parsed as HTML. */
function snippetNodes(snippet) {
  return snippet
    .split(/(<mark>.*?<\/mark>)/)
    .map((part) => (part.startsWith('<mark>') ? h('mark', {}, unescapeHtml(part.slice(6, -7))) : unescapeHtml(part)));
}

/** Every message of a conversation (the history comes 100 at a time). */
async function allMessages(id) {
  const messages = [];
  for (let offset = 0; ; offset += 100) {
    const { body, headers } = await api(`/api/v1/sessions/${id}/history?limit=100&offset=${offset}`);
    messages.push(...body);
    if (messages.length >= Number(headers.get('x-total-count') ?? 0) || body.length === 0) return messages;
  }
}

function markdownOf(session, messages) {
  const lines = [`# ${session.title ?? `Conversation ${session.id}`}`, ''];
  lines.push(`- Model: ${session.model ?? 'default'}`, `- Created: ${session.created_at}`, '');
  for (const message of messages) {
    lines.push(`## ${message.role}${message.model ? ` (${message.model})` : ''} — ${message.created_at}`, '');
    lines.push(message.content, '');
  }
  return lines.join('\n');
}

/** One conversation: its messages, export and delete. */
async function conversationPage(main, id) {
  const { body: session } = await api(`/api/v1/sessions/${encodeURIComponent(id)}`);
  const messages = await allMessages(session.id);
  main.querySelector('h1').textContent = session.title ?? `Conversation ${session.id}`;
  const base = `conversation-${session.id}`;
  main.append(
    h('p', {}, h('a', { href: '#/conversations' }, 'All conversations')),
    h(
      'div',
      { className: 'actions' },
      h(
        'button',
        {
          type: 'button',
          onclick: () => download(`${base}.json`, 'application/json', JSON.stringify({ session, messages }, null, 2)),
        },
        'Export JSON',
      ),
      h(
        'button',
        { type: 'button', onclick: () => download(`${base}.md`, 'text/markdown', markdownOf(session, messages)) },
        'Export Markdown',
      ),
      h(
        'button',
        {
          type: 'button',
          className: 'danger',
          onclick: async () => {
            if (!confirm('Delete this conversation and its messages? This cannot be undone.')) return;
            await api(`/api/v1/sessions/${session.id}`, { method: 'DELETE' });
            announce('Conversation deleted.');
            location.hash = '#/conversations';
          },
        },
        'Delete conversation',
      ),
    ),
    h(
      'ol',
      { className: 'messages', 'aria-label': 'Messages' },
      messages.map((message) =>
        h(
          'li',
          { className: `message ${message.role}` },
          h(
            'p',
            { className: 'meta' },
            `${message.role}${message.model ? ` · ${message.model}` : ''} · ${when(message.created_at)}`,
          ),
          h('div', { className: 'content' }, message.content),
        ),
      ),
    ),
  );
}

/** Conversations: newest first, a page at a time, with a search over every message. */
export async function conversationsPage(main, { rest, query }) {
  if (rest[0]) return conversationPage(main, rest[0]);
  const q = query.get('q') ?? '';
  const offset = Math.max(0, Number(query.get('offset') ?? 0) || 0);
  const search = h('input', { type: 'search', name: 'q', value: q, maxlength: 1000 });
  const form = h(
    'form',
    { className: 'card inline', role: 'search' },
    field('Search your messages', search),
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = search.value ? `#/conversations?q=${encodeURIComponent(search.value)}` : '#/conversations';
  });
  main.append(form);

  if (q) {
    const { body } = await api(`/api/v1/search?q=${encodeURIComponent(q)}&limit=50`);
    if (body.notice) main.append(h('p', {}, body.notice));
    main.append(
      table(
        `Messages matching “${q}”`,
        ['Conversation', 'Role', 'Text'],
        body.results.map((hit) => [
          h(
            'a',
            { href: `#/conversations/${hit.conversation_id}` },
            hit.conversation_title ?? `Conversation ${hit.conversation_id}`,
          ),
          hit.role ?? 'document',
          h('span', {}, snippetNodes(hit.snippet)),
        ]),
      ),
    );
    return;
  }

  const { body: sessions, headers } = await api(`/api/v1/sessions?limit=${pageSize}&offset=${offset}`);
  const total = Number(headers.get('x-total-count') ?? sessions.length);
  main.append(
    table(
      `Conversations ${total ? offset + 1 : 0}–${offset + sessions.length} of ${total}`,
      ['Title', 'Model', 'Created', 'Last activity'],
      sessions.map((session) => [
        h('a', { href: `#/conversations/${session.id}` }, session.title ?? `Conversation ${session.id}`),
        session.model ?? '—',
        when(session.created_at),
        when(session.updated_at),
      ]),
    ),
    h(
      'nav',
      { className: 'pager', 'aria-label': 'Pages of conversations' },
      offset > 0 ? h('a', { href: `#/conversations?offset=${Math.max(0, offset - pageSize)}` }, 'Newer') : null,
      offset + pageSize < total ? h('a', { href: `#/conversations?offset=${offset + pageSize}` }, 'Older') : null,
    ),
  );
}
