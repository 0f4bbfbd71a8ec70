import { field, h } from './dom.js';
import { api } from './session.js';

/** Reads Server-Sent Events from a fetch response and calls back with each JSON event. */
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data && data !== '[DONE]') onEvent(JSON.parse(data));
    }
  }
}

/** Streams an answer from any model or agent, with every setting sent shown beside it. */
export async function playgroundPage(main) {
  const [{ body: models }, { body: agents }] = await Promise.all([
    api('/api/v1/models'),
    api('/api/v1/models/agents?limit=100'),
  ]);
  const target = h(
    'select',
    { name: 'target', required: true },
    h(
      'optgroup',
      { label: 'Models' },
      models.map((model) =>
        h(
          'option',
          { value: `model:${model.id}`, disabled: !model.available },
          `${model.id}${model.available ? '' : ' (not available)'}`,
        ),
      ),
    ),
    agents.length
      ? h(
          'optgroup',
          { label: 'Agents' },
          agents.map((agent) => h('option', { value: `agent:${agent.id}` }, `${agent.name} (agent)`)),
        )
      : null,
  );
  const system = h('textarea', { name: 'system', rows: 2 });
  const temperature = h('input', { name: 'temperature', type: 'number', min: 0, max: 2, step: 0.1, value: '0.7' });
  const maxTokens = h('input', { name: 'max_tokens', type: 'number', min: 1, value: '512' });
  const prompt = h('textarea', { name: 'prompt', rows: 4, required: true });
  const send = h('button', { type: 'submit' }, 'Send');
  const stop = h('button', { type: 'button', className: 'secondary', disabled: true }, 'Stop');
  const settings = h('pre', { className: 'settings', 'aria-label': 'Request sent' });
  const answer = h('div', { className: 'answer', 'aria-live': 'polite', 'aria-busy': 'false', id: 'answer' });
  const outcome = h('p', { className: 'outcome' });

  const form = h(
    'form',
    { className: 'card', 'aria-label': 'Request' },
    field('Model or agent', target),
    field('System prompt', system, 'Optional; an agent adds its own instructions first.'),
    h('div', { className: 'pair' }, field('Temperature', temperature), field('Max tokens', maxTokens)),
    field('Prompt', prompt),
    h('div', { className: 'actions' }, send, stop),
  );
  let controller;
  stop.addEventListener('click', () => controller?.abort());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const [kind, id] = [target.value.slice(0, 5), target.value.slice(6)];
    const body = {
      ...(kind === 'agent' ? { agent_id: id } : { model_id: id }),
      prompt: prompt.value,
      ...(system.value ? { system: system.value } : {}),
      ...(temperature.value === '' ? {} : { temperature: Number(temperature.value) }),
      ...(maxTokens.value === '' ? {} : { max_tokens: Number(maxTokens.value) }),
      stream: true,
    };
    settings.textContent = `POST /api/v1/models/completions\n${JSON.stringify(body, null, 2)}`;
    answer.textContent = '';
    outcome.textContent = '';
    controller = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    answer.setAttribute('aria-busy', 'true');
    try {
      const response = await api('/api/v1/models/completions', {
        method: 'POST',
        body,
        signal: controller.signal,
        raw: true,
      });
      await readEvents(response, (event) => {
        if (event.type === 'start') outcome.textContent = `Answering with ${event.model_id}…`;
        else if (event.type === 'delta') answer.append(event.content);
        else if (event.type === 'end')
          outcome.textContent = `Finished (${event.finish_reason}): ${event.usage?.prompt_tokens ?? '?'} prompt and ${event.usage?.completion_tokens ?? '?'} completion tokens.`;
        else if (event.type === 'error') outcome.textContent = `The model failed: ${event.detail}`;
      });
    } catch (error) {
      outcome.textContent = error.name === 'AbortError' ? 'Stopped.' : `Refused: ${error.message}`;
    } finally {
      send.disabled = false;
      stop.disabled = true;
      answer.setAttribute('aria-busy', 'false');
    }
  });

  main.append(
    h(
      'div',
      { className: 'playground' },
      form,
      h(
        'section',
        { 'aria-label': 'Answer' },
        h('h2', {}, 'Answer'),
        answer,
        outcome,
        h('h2', {}, 'Settings sent'),
        settings,
      ),
    ),
  );
}
