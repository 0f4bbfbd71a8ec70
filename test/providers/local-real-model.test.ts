import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local/local-provider.ts';
import type { ChatRequest } from '../../src/providers/provider.ts';
import { writeTinyLlamaGguf } from '../fixtures/gguf/build-tiny-llama.ts';
import { collect } from './local-stream.ts';
import { realModelsDir } from '../helpers/real-models.ts';

const sharedModels = realModelsDir;
const storiesFile = 'stories260K.gguf';
const absent = existsSync(join(sharedModels, storiesFile))
  ? false
  : `${storiesFile} is not in ${sharedModels} (see MODELS.md there): the real-model test is skipped`;

/** Words of children's stories: a trained TinyStories model writes mostly these; random weights do not. */
const storyWords = new Set(
  `a about after again all always an and animal animals are around as asked at ate away baby back bad ball be bear
  beautiful because bed been before best big bird birds blue boat book box boy bread brother bug but by cake called came
  can car care cat chased come could cried cry dad day decided did didn't do dog don't door down each eat end every
  everyone everything excited eyes fall far fast felt find fish flew flower flowers fly for found friend friends from
  fun funny game garden gave get girl give go going good got grass great green had happy has have he help her here hid
  high him his home hop house how hug hugged i if in inside into is it it's its jump just kind knew know lady laughed
  learned let like liked little lived long look looked lost lot lots loved made make man many may me mom more moral
  morning mouse much must my name needed new nice night no not now of off oh old on once one only open or other our out
  outside park people pick picked place play played playing please pretty put ran red remember ride room run said sad
  saw say scared sea see shared she shiny show sky small smile smiled so some something soon special started stay still
  stop story sun sure surprise take talk tall teddy tell than thank that the their them then there they thing things
  think this time tired to together too took toy toys tree tried truck two up us very walk walked want wanted was water
  way we went were what when where which while white who why will wind with wise yellow yes you your`.split(/\s+/),
);

/** Share of the words that are common story words, and share of ASCII characters. */
function englishScore(text: string) {
  const words = text.toLowerCase().match(/[a-z']+/g) ?? [];
  const known = words.filter((word) => storyWords.has(word)).length;
  const ascii = [...text].filter((character) => character.charCodeAt(0) < 128).length;
  return {
    words: words.length,
    known: words.length ? known / words.length : 0,
    ascii: text.length ? ascii / text.length : 0,
  };
}
const readsAsStoryEnglish = (score: ReturnType<typeof englishScore>) =>
  score.words >= 40 && score.known >= 0.55 && score.ascii >= 0.97;

describe('local provider with a real trained model (stories260K)', { skip: absent }, () => {
  let provider: LocalProvider;
  let scratch: string;
  const story = (extra: Partial<ChatRequest> = {}): ChatRequest => ({
    model: storiesFile,
    messages: [{ role: 'user', content: 'Tell me a story.' }],
    ...extra,
  });

  before(async () => {
    // Every token its own event: the test below checks the answer is streamed token by token.
    provider = createLocalProvider({ modelsDir: sharedModels, threads: 1, textBatchMs: 0 });
    scratch = await mkdtemp(join(tmpdir(), 'causerie-real-'));
  });
  after(async () => {
    await provider?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test('answers in real English: mostly common story words, all ASCII, sentences', async () => {
    // Seeded sampling at the default temperature (1): a fixed but ordinary answer.
    const result = await collect(provider, story({ max_tokens: 250, seed: 7 }));
    const score = englishScore(result.text);
    assert.ok(readsAsStoryEnglish(score), `${JSON.stringify(score)} for ${JSON.stringify(result.text)}`);
    assert.ok((result.text.match(/[.!?]["']?\s+[A-Z]/g) ?? []).length >= 3, 'several sentences');
    assert.equal(result.usage?.completion_tokens, 250);
    assert.ok(result.deltas.length > 50, 'streamed piece by piece');
  });

  test('the English check is not fooled by random weights (control)', async () => {
    await writeTinyLlamaGguf(scratch, 'random.gguf');
    const random = createLocalProvider({ modelsDir: scratch, threads: 1 });
    try {
      const result = await collect(random, { ...story({ max_tokens: 250, seed: 7 }), model: 'random.gguf' });
      assert.equal(readsAsStoryEnglish(englishScore(result.text)), false, JSON.stringify(result.text));
    } finally {
      await random.close();
    }
  });

  test('a stop sequence cuts the story at the first full stop', async () => {
    const result = await collect(provider, story({ max_tokens: 200, seed: 3, stop: ['.'] }));
    assert.equal(result.finish, 'stop');
    assert.ok(result.text.length > 0 && !result.text.includes('.'), JSON.stringify(result.text));
    assert.ok(result.usage!.completion_tokens < 200);
  });

  test('greedy answers repeat exactly, also when the cached prompt is reused or runs beside another', async () => {
    const greedy = story({ max_tokens: 40, temperature: 0 });
    const first = await collect(provider, greedy);
    const [again, other] = await Promise.all([
      collect(provider, greedy),
      collect(provider, story({ max_tokens: 40, seed: 1 })),
    ]);
    assert.equal(again.text, first.text);
    assert.notEqual(other.text, first.text);
    assert.equal(again.usage?.prompt_tokens, first.usage?.prompt_tokens);
  });
});
