/** Builds elements without HTML strings: text is always text, so nothing a server returns can become markup. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'className') element.className = value;
    else if (name === 'value' || name === 'checked') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's content. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A labelled form field: the label names the control, for screen readers and for tests. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintElement = hint ? h('small', { id: `${id}-hint` }, hint) : null;
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { className: 'field' }, h('label', { for: id }, label), control, hintElement);
}

/** A table inside a scrolling box, so wide tables never widen a phone's page. */
export function table(caption, headers, rows) {
  return h(
    'div',
    { className: 'table-box', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((header) => h('th', { scope: 'col' }, header)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length
          ? rows.map((cells) =>
              h(
                'tr',
                {},
                cells.map((cell) => h('td', {}, cell)),
              ),
            )
          : h('tr', {}, h('td', { colspan: headers.length }, 'Nothing yet.')),
      ),
    ),
  );
}

/** Says something to everyone (a polite live region) and shows it. */
export function announce(text, kind = 'info') {
  const status = document.getElementById('status');
  status.className = `status ${kind}`;
  status.textContent = text;
}

export const when = (iso) => (iso ? `${new Date(iso).toISOString().replace('T', ' ').slice(0, 16)} UTC` : '—');

/** Copies text and says so; a browser without clipboard access leaves the text selected to copy by hand. */
export async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    announce('Copied to the clipboard.');
  } catch {
    input?.select();
    announce('Select the text and copy it (the browser refused clipboard access).', 'error');
  }
}

/** Offers a file to save, made in the page. */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
