import { announce, field, fill, h } from './dom.js';
import { api, ApiError, renew, signIn, signOut, whenSignedOut } from './session.js';
import { keysPage } from './keys.js';
import { usagePage } from './usage.js';
import { limitsPage } from './limits.js';
import { modelsPage } from './models.js';
import { agentsPage } from './agents.js';
import { conversationsPage } from './conversations.js';
import { playgroundPage } from './playground.js';

const pages = {
  keys: ['API keys', keysPage],
  usage: ['Usage', usagePage],
  limits: ['Limits', limitsPage],
  models: ['Models', modelsPage],
  agents: ['Agents', agentsPage],
  conversations: ['Conversations', conversationsPage],
  playground: ['Playground', playgroundPage],
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
let me = null;

/** The route in the address: #/name/rest?query. */
function route() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  return { name: pages[name] ? name : 'keys', rest, query: new URLSearchParams(query) };
}

async function show() {
  if (!me) return;
  const { name, rest, query } = route();
  const [title, render] = pages[name];
  document.title = `${title} — Causerie console`;
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const heading = h('h1', {}, title);
  fill(main, heading);
  try {
    await render(main, { me, rest, query });
  } catch (error) {
    // Signed out meanwhile (the sign-in expired): the sign-in form is the page now.
    if (me) main.append(h('p', { className: 'error', role: 'alert' }, messageOf(error)));
  }
}

export function messageOf(error) {
  if (error instanceof ApiError) return `${error.message} (${error.status})`;
  return String(error?.message ?? error);
}

function signedOut() {
  me = null;
  nav.hidden = true;
  fill(account);
  document.title = 'Sign in — Causerie console';
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { className: 'error', role: 'alert' });
  const form = h(
    'form',
    { className: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    field('Username', username),
    field('Password', password),
    error,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      await signIn(username.value, password.value);
      await signedIn();
    } catch (failure) {
      error.textContent = messageOf(failure);
      password.focus();
    }
  });
  fill(main, form);
  username.focus();
}

async function signedIn() {
  me = (await api('/api/v1/me')).body.user;
  nav.hidden = false;
  fill(
    account,
    h('span', {}, `${me.username}${me.role === 'admin' ? ' (admin)' : ''}`),
    h(
      'button',
      {
        type: 'button',
        className: 'secondary',
        onclick: async () => {
          await signOut();
          announce('Signed out.');
        },
      },
      'Sign out',
    ),
  );
  await show();
  main.focus();
}

whenSignedOut(signedOut);
// A message belongs to the page it was said on: moving elsewhere from the navigation clears it.
nav.addEventListener('click', () => announce(''));
window.addEventListener('hashchange', () => void show().then(() => main.focus()));
if (await renew()) await signedIn();
else signedOut();
