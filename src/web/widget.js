/*
 * Causerie chat widget (spec 002's public agents). Plain JavaScript, no dependency, served by
 * Causerie at /widget.js. A page embeds it with:
 *   <script src="(your Causerie)/widget.js" data-public-key="PUB_…" data-agent="<agent id>" async></script>
 * It learns its server from its own src, renders in a shadow root (the page's styles cannot
 * reach it), streams answers, and keeps the conversation across reloads until the token expires.
 */
(() => {
  const script = document.currentScript;
  if (!script?.src) return;
  const server = new URL(script.src).origin;
  const publicKey = script.getAttribute('data-public-key') || '';
  const agent = script.getAttribute('data-agent') || '';
  const title = script.getAttribute('data-title') || 'Chat';
  const storageKey = `causerie-widget:${server}:${agent}`;
  const base = `${server}/v1/chat/conversation/public/`;

  const css =
    ':host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000}' +
    // Styles the page puts on the host element (even !important) are inherited; this wrapper resets them.
    '.root{font:15px/1.4 system-ui,sans-serif;color:#1d1d1f;text-align:left}' +
    'button{font:inherit;cursor:pointer}' +
    '.launcher{width:56px;height:56px;border-radius:50%;border:0;background:#2747d6;color:#fff;display:grid;place-items:center;box-shadow:0 2px 10px rgba(0,0,0,.3)}' +
    '.launcher:focus-visible,.send:focus-visible,.close:focus-visible,textarea:focus-visible{outline:3px solid #f5a623;outline-offset:2px}' +
    '.panel{position:absolute;right:0;bottom:68px;width:340px;max-width:calc(100vw - 40px);height:440px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.25);overflow:hidden}' +
    '.panel[hidden]{display:none}' +
    'header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#2747d6;color:#fff;font-weight:600}' +
    '.close{background:none;border:0;color:#fff;font-size:20px;line-height:1}' +
    '.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;margin:0;list-style:none}' +
    '.msg{max-width:85%;padding:8px 11px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}' +
    '.user{align-self:flex-end;background:#2747d6;color:#fff}.assistant{align-self:flex-start;background:#f0f1f4}' +
    '.status{padding:6px 12px;font-size:13px;color:#a11}.status:empty{display:none}' +
    'form{display:flex;gap:6px;padding:10px;border-top:1px solid #e3e3e8}' +
    'textarea{flex:1;resize:none;font:inherit;padding:7px;border:1px solid #c8c8d0;border-radius:8px;height:38px}' +
    '.send{border:0;border-radius:8px;background:#2747d6;color:#fff;padding:0 14px}.send:disabled{opacity:.5;cursor:default}';

  const host = document.createElement('div');
  host.setAttribute('data-causerie-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML =
    '<style>' +
    css +
    '</style><div class="root">' +
    '<div class="panel" role="dialog" aria-label="" id="panel" hidden>' +
    '<header><span class="title"></span><button type="button" class="close" aria-label="Close chat">\u00d7</button></header>' +
    '<ol class="log" aria-live="polite" aria-label="Conversation"></ol>' +
    '<div class="status" role="status"></div>' +
    '<form><textarea aria-label="Your message" placeholder="Write a message…" maxlength="20000"></textarea>' +
    '<button type="submit" class="send">Send</button></form></div>' +
    '<button type="button" class="launcher" aria-label="Open chat" aria-expanded="false" aria-controls="panel">' +
    '<svg width="26" height="26" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg></button></div>';
  const $ = (selector) => root.querySelector(selector);
  const panel = $('.panel'),
    launcher = $('.launcher'),
    log = $('.log'),
    status = $('.status');
  const input = $('textarea'),
    send = $('.send'),
    form = $('form');
  panel.setAttribute('aria-label', title);
  $('.title').textContent = title;

  let session = null; // { token, expires_at }
  let loaded = false;
  let busy = false;

  function say(text) {
    status.textContent = text || '';
  }
  function bubble(role, text) {
    const item = document.createElement('li');
    item.className = `msg ${role}`;
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }
  function remember(value) {
    session = value;
    try {
      if (value) localStorage.setItem(storageKey, JSON.stringify(value));
      else localStorage.removeItem(storageKey);
    } catch {}
  }
  function stored() {
    try {
      const value = JSON.parse(localStorage.getItem(storageKey) || 'null');
      if (value?.token && Date.parse(value.expires_at) > Date.now()) return value;
    } catch {}
    return null;
  }
  function problem(response, body) {
    if (response.status === 429) {
      const wait = response.headers.get('retry-after');
      return (
        'You are sending messages too quickly. Please wait' +
        (wait ? ` ${wait} seconds` : ' a moment') +
        ' and try again.'
      );
    }
    if (response.status === 403 || response.status === 404)
      return 'This conversation has ended. Send your message again to start a new one.';
    return body?.detail || 'Something went wrong. Please try again.';
  }

  /** A client token: the stored one (and its messages), or a new conversation. */
  async function start() {
    const kept = stored();
    if (kept) {
      const response = await fetch(`${base}messages/${encodeURIComponent(kept.token)}`);
      if (response.ok) {
        session = kept;
        log.textContent = '';
        (await response.json()).forEach((m) => {
          bubble(m.role, m.content);
        });
        return;
      }
      remember(null);
    }
    const minted = await fetch(`${base}message/token/${encodeURIComponent(agent)}`, {
      headers: { Authorization: `Bearer ${publicKey}` },
    });
    if (!minted.ok) throw new Error('This chat is not available on this page.');
    const body = await minted.json();
    remember({ token: body.token, expires_at: body.expires_at });
  }

  async function ensure() {
    if (session && Date.parse(session.expires_at) > Date.now()) return true;
    try {
      await start();
      loaded = true;
      say('');
      return true;
    } catch (error) {
      say(error instanceof TypeError ? 'This chat is not available on this page.' : error.message);
      return false;
    }
  }

  /** Reads a Server-Sent Events body, calling onData with each event's data. */
  async function readEvents(response, onData) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      const events = buffer.split(/\r?\n\r?\n/);
      buffer = events.pop();
      events.forEach((event) => {
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.indexOf('data:') === 0)
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) onData(data, /^event: ?error/m.test(event));
      });
    }
  }

  async function submit(text) {
    if (busy || !text.trim()) return;
    busy = true;
    send.disabled = true;
    say('');
    try {
      if (!(await ensure())) return;
      bubble('user', text);
      input.value = '';
      const response = await fetch(`${base}message`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_token: session.token, message: text, stream: true }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        if (response.status === 403 || response.status === 404) remember(null);
        say(problem(response, body));
        return;
      }
      const answer = bubble('assistant', '');
      answer.setAttribute('aria-busy', 'true');
      await readEvents(response, (data, failed) => {
        if (data === '[DONE]') return;
        const event = JSON.parse(data);
        if (failed) say('The answer was interrupted. Please try again.');
        else if (event.type === 'delta') answer.textContent += event.content;
        log.scrollTop = log.scrollHeight;
      });
      answer.removeAttribute('aria-busy');
    } catch {
      say('The chat server cannot be reached. Check your connection and try again.');
    } finally {
      busy = false;
      send.disabled = false;
    }
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    launcher.setAttribute('aria-label', 'Close chat');
    input.focus();
    if (!loaded) ensure();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-label', 'Open chat');
    launcher.focus();
  }

  launcher.addEventListener('click', () => {
    panel.hidden ? open() : close();
  });
  $('.close').addEventListener('click', close);
  root.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !panel.hidden) {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(input.value);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      submit(input.value);
    }
  });

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
