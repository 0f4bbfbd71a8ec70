import { h } from './dom.js';

const svgNs = 'http://www.w3.org/2000/svg';
const svg = (tag, attributes = {}, ...children) => {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
};

/**
 * A bar chart drawn as SVG (no library): one bar per label, the largest value at full height. The
 * figure has a text alternative; the same numbers are in the table beside it.
 */
export function barChart(title, labels, values, format = String) {
  const width = 600;
  const height = 180;
  const top = 12;
  const bottom = 28;
  const max = Math.max(1, ...values);
  const step = width / Math.max(1, labels.length);
  const barWidth = Math.max(2, step * 0.7);
  const bars = labels.map((label, index) => {
    const barHeight = ((height - top - bottom) * values[index]) / max;
    return svg(
      'rect',
      {
        class: 'bar',
        x: index * step + (step - barWidth) / 2,
        y: height - bottom - barHeight,
        width: barWidth,
        height: Math.max(0, barHeight),
      },
      svg('title', {}, `${label}: ${format(values[index])}`),
    );
  });
  // A few labels under the axis: the first, the last and some between, far enough apart not to overlap.
  const last = labels.length - 1;
  const every = Math.max(1, Math.ceil(labels.length / 6));
  const ticks = labels
    .map((label, index) => [label, index])
    .filter(([, index]) => index === last || (index % every === 0 && last - index >= every))
    .map(([label, index]) =>
      svg(
        'text',
        {
          class: 'tick',
          // The first and last labels hug the edges so neither is cut off.
          x: index === 0 ? 0 : index === last ? width : index * step + step / 2,
          y: height - 6,
          'text-anchor': index === 0 ? 'start' : index === last ? 'end' : 'middle',
        },
        label.slice(5),
      ),
    );
  const total = values.reduce((sum, value) => sum + value, 0);
  const summary = `${title}: highest ${format(Math.max(0, ...values))}, total ${format(total)} over ${labels.length} days`;
  return h(
    'figure',
    { className: 'chart' },
    svg(
      'svg',
      { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary },
      svg('line', { class: 'axis', x1: 0, x2: width, y1: height - bottom, y2: height - bottom }),
      ...bars,
      ...ticks,
    ),
    h('figcaption', {}, title),
  );
}

/**
 * Horizontal bars, one per label (a model, a key): the label, a bar in proportion to the largest
 * value, and the value. For a handful of lines; the table beside it has them all.
 */
export function shareChart(title, labels, values, format = String) {
  const width = 600;
  const row = 30;
  const labelWidth = 220;
  const valueWidth = 90;
  const max = Math.max(1, ...values);
  const rows = labels.slice(0, 8).map((label, index) => {
    const y = index * row;
    const barWidth = ((width - labelWidth - valueWidth) * values[index]) / max;
    const shown = label.length > 26 ? `${label.slice(0, 25)}…` : label;
    return svg(
      'g',
      {},
      svg('title', {}, `${label}: ${format(values[index])}`),
      svg('text', { class: 'label', x: 0, y: y + 20 }, shown),
      svg('rect', { class: 'bar', x: labelWidth, y: y + 6, width: Math.max(1, barWidth), height: row - 12 }),
      svg('text', { class: 'label', x: labelWidth + barWidth + 6, y: y + 20 }, format(values[index])),
    );
  });
  const summary = `${title}: ${labels
    .slice(0, 8)
    .map((label, index) => `${label} ${format(values[index])}`)
    .join(', ')}`;
  return h(
    'figure',
    { className: 'chart' },
    svg(
      'svg',
      { viewBox: `0 0 ${width} ${Math.max(1, rows.length) * row}`, role: 'img', 'aria-label': summary },
      ...rows,
    ),
    h('figcaption', {}, title),
  );
}
