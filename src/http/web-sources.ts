import { Type } from '../lib/type.ts';
import type { Message } from '../domain/conversations/conversations.types.ts';
import type { SseSink } from './sse.ts';

/** The sources a reply cites as [n], as every surface shows them. */
export const SourcesBody = Type.Array(
  Type.Object({
    index: Type.Integer({ description: 'The number the answer cites it by: [1], [2] \u2026' }),
    title: Type.String(),
    url: Type.String(),
  }),
  { description: 'Web pages the answer was given (web search); cited in the text as [n]' },
);

export type SourceBody = { index: number; title: string; url: string };

/** The web sources kept in a reply's metadata, or undefined when it used none. */
export function sourcesOf(message: Pick<Message, 'metadata'>): SourceBody[] | undefined {
  const sources = message.metadata?.sources;
  return Array.isArray(sources) ? (sources as SourceBody[]) : undefined;
}

/** Sends `event: sources` with `{"sources":[...]}` before the text, when the reply has sources. */
export function sendSourcesEvent(sse: SseSink, message: Pick<Message, 'metadata'>): void {
  const sources = sourcesOf(message);
  if (sources) sse.sendJson({ sources }, 'sources');
}

/** OpenAI's citation annotation: where in the answer `[n]` cites which page. */
export const UrlCitationBody = Type.Object({
  type: Type.Literal('url_citation'),
  url_citation: Type.Object({
    start_index: Type.Integer(),
    end_index: Type.Integer(),
    title: Type.String(),
    url: Type.String(),
  }),
});

/** The `[n]` markers of an answer as OpenAI url_citation annotations (string offsets, in UTF-16 units). */
export function urlCitations(text: string, sources: SourceBody[]) {
  const byIndex = new Map(sources.map((source) => [source.index, source]));
  const annotations: Array<{
    type: 'url_citation';
    url_citation: { start_index: number; end_index: number; title: string; url: string };
  }> = [];
  for (const match of text.matchAll(/\[(\d{1,2})\]/g)) {
    const source = byIndex.get(Number(match[1]));
    if (!source) continue;
    annotations.push({
      type: 'url_citation',
      url_citation: {
        start_index: match.index,
        end_index: match.index + match[0].length,
        title: source.title,
        url: source.url,
      },
    });
  }
  return annotations;
}
