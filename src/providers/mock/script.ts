/**
 * The scripting language of the scripted upstream: directives in double brackets inside the last
 * user message. Everything else in that message is the text echoed back. See docs/models.md.
 *
 *   [[reply:Some text]]     answer this text instead of echoing
 *   [[delay:200]]           wait 200 ms before the response headers (the first byte)
 *   [[chunk-delay:50]]      wait 50 ms between streamed chunks
 *   [[status:429]]          answer this HTTP status before the first byte ([[retry-after:7]] adds the header)
 *   [[fail-first:2]]        answer 503 to the first 2 requests carrying this message, then succeed
 *   [[fail-after:3]]        after 3 content chunks, send an SSE error event and end
 *   [[drop-after:3]]        after 3 content chunks, destroy the connection
 *   [[drop]]                destroy the connection before answering
 *   [[hang]]                send the headers and the first chunk, then nothing until the client leaves
 *   [[no-usage]]            report no token usage
 *   [[tool:get_weather:{"city":"Paris"}]]   answer with this tool call (arguments optional)
 *   [[hostile:KIND]]        a malicious or broken provider: huge (an 8 MB answer), garbage (not
 *                           JSON), invalid-utf8, wrong-shape (JSON of the wrong types), endless
 *                           (words streamed for ever)
 *   [[echo-prompt]]         answer with every message it received, one `role: content` line each
 *                           (tests see what context Causerie added: instructions, documents, pages)
 */
export interface Script {
  reply: string;
  delayMs: number;
  chunkDelayMs: number;
  status?: number;
  retryAfter?: string;
  failFirst: number;
  failAfter?: number;
  dropAfter?: number;
  drop: boolean;
  hang: boolean;
  usage: boolean;
  tool?: { name: string; arguments: string };
  echoPrompt: boolean;
  hostile?: 'huge' | 'garbage' | 'invalid-utf8' | 'wrong-shape' | 'endless';
}

const directivePattern = /\[\[([a-z-]+)(?::(.*?))?\]\]/g;

const count = (value: string | undefined, fallback = 0) => {
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 ? number : fallback;
};

/** Reads the directives of a message; `reply` is the message without them (or "OK" when empty). */
export function parseScript(content: string): Script {
  const script: Script = {
    reply: '',
    delayMs: 0,
    chunkDelayMs: 0,
    failFirst: 0,
    drop: false,
    hang: false,
    usage: true,
    echoPrompt: false,
  };
  let reply: string | undefined;
  for (const [, name, value] of content.matchAll(directivePattern)) {
    switch (name) {
      case 'reply':
        reply = value ?? '';
        break;
      case 'delay':
        script.delayMs = count(value);
        break;
      case 'chunk-delay':
        script.chunkDelayMs = count(value);
        break;
      case 'status':
        script.status = count(value, 500);
        break;
      case 'retry-after':
        script.retryAfter = value;
        break;
      case 'fail-first':
        script.failFirst = count(value, 1);
        break;
      case 'fail-after':
        script.failAfter = count(value);
        break;
      case 'drop-after':
        script.dropAfter = count(value);
        break;
      case 'drop':
        script.drop = true;
        break;
      case 'hang':
        script.hang = true;
        break;
      case 'no-usage':
        script.usage = false;
        break;
      case 'hostile':
        script.hostile = value as Script['hostile'];
        break;
      case 'echo-prompt':
        script.echoPrompt = true;
        break;
      case 'tool': {
        const colon = (value ?? '').indexOf(':');
        script.tool =
          colon < 0
            ? { name: value || 'tool', arguments: '{}' }
            : { name: value!.slice(0, colon), arguments: value!.slice(colon + 1) };
        break;
      }
    }
  }
  script.reply = reply ?? (content.replace(directivePattern, '').trim() || 'OK');
  return script;
}

/** The text split into streamed pieces, one word (with its trailing space) each: a "token". */
export const piecesOf = (text: string): string[] => text.match(/\S+\s*|\s+/g) ?? [];

/** The scripted upstream's token count: words. Deterministic, so tests can assert exact usage. */
export const wordCount = (text: string) => text.split(/\s+/).filter(Boolean).length;
