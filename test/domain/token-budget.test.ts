import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  estimateTextTokens,
  estimatingCounter,
  promptTokens,
  tokenCounterOf,
} from '../../src/domain/completions/token-budget.ts';
import { fitToContext } from '../../src/domain/conversations/context-window.ts';
import type { ChatMessage, Provider } from '../../src/providers/provider.ts';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const provider = (countTokens?: Provider['countTokens']): Provider => ({
  id: 'fake',
  kind: 'mock',
  stream: async () => (async function* () {})(),
  countTokens,
});

test('a provider with a tokenizer is counted by it; one without gets the estimate admission uses', async () => {
  const tokenizer = provider(async (text) => text.split(' ').length * 10);
  assert.equal(await tokenCounterOf(tokenizer, 'echo')('two words'), 20);
  const plain = tokenCounterOf(provider(), 'echo');
  assert.equal(plain, estimatingCounter);
  assert.equal(await plain('abcdefgh'), estimateTextTokens('abcdefgh'));
  assert.equal(await promptTokens(plain, [user('abcd'), user('efgh')]), 2);
});

test('context fitting counts with the same tokenizer: a costly tokenizer drops the older messages', async () => {
  const history = [
    { role: 'system', content: 'be brief' } as ChatMessage,
    user('one two three'),
    user('four five six'),
  ];
  const window = { contextWindow: 200, maxTokens: 50 };
  // The estimate fits everything in 150 tokens.
  assert.equal((await fitToContext(history, { ...window, count: estimatingCounter })).length, 3);
  // A tokenizer that counts 30 tokens a word leaves room for the system message and the newest one only.
  const costly = async (text: string) => text.split(' ').length * 30;
  assert.deepEqual(
    (await fitToContext(history, { ...window, count: costly })).map((m) => m.content),
    ['be brief', 'four five six'],
  );
});
