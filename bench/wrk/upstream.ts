/**
 * A plain OpenAI-compatible upstream for the wrk proxy benchmark (bench/wrk/proxy.sh): 20 chunks
 * written at once (or `paced-<ms>` apart when the model is named so), usage on the last one.
 * PORT picks the port. Nothing else: it must cost as little as possible next to the target.
 */
import http from 'node:http';

const chunks = 20;
const created = Math.floor(Date.now() / 1000);
const frame = (id: string, model: string, delta: object, finish: string | null, usage?: object) =>
  `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
const usage = { prompt_tokens: 10, completion_tokens: chunks, total_tokens: 10 + chunks };
let seq = 0;
const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(parts).toString() || '{}') as { model?: string; stream?: boolean };
    const id = `chatcmpl-w${++seq}`;
    const model = body.model ?? 'm';
    if (!body.stream) {
      const text = Array.from({ length: chunks - 1 }, (_, i) => ` tok${i + 1}`).join('');
      const out = JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
      return;
    }
    const delay = Number(/^paced-(\d+)$/.exec(model)?.[1] ?? 0);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    const step = () => {
      if (res.destroyed) return;
      if (i === chunks - 1) return void res.end(`${frame(id, model, {}, 'stop', usage)}data: [DONE]\n\n`);
      res.write(frame(id, model, i === 0 ? { role: 'assistant', content: '' } : { content: ` tok${i}` }, null));
      i++;
      if (delay) setTimeout(step, delay);
      else step();
    };
    step();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
