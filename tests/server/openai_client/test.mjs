// The official openai package against a running `llcuda serve`: a chat completion, a streamed
// one, a models listing, and an API error surfacing as the package's error class.
// Usage: LLCUDA_URL=http://127.0.0.1:PORT/v1 LLCUDA_KEY=... node test.mjs
import assert from "node:assert/strict";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.LLCUDA_URL, apiKey: process.env.LLCUDA_KEY });

const models = await client.models.list();
assert.equal(models.data.length, 1);
const model = models.data[0].id;

const chat = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 12,
  temperature: 0,
});
assert.equal(chat.object, "chat.completion");
assert.equal(chat.choices[0].message.role, "assistant");
assert.ok(chat.choices[0].message.content.length > 0);
assert.equal(chat.choices[0].finish_reason, "length");
assert.equal(chat.usage.completion_tokens, 12);

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 12,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let finish = null;
let usage = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    streamed += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
}
assert.equal(streamed, chat.choices[0].message.content, "the stream matches the whole response");
assert.equal(finish, "length");
assert.equal(usage.completion_tokens, 12);

const completion = await client.completions.create({ model, prompt: "Lily", max_tokens: 5, temperature: 0 });
assert.equal(completion.choices[0].text.length > 0, true);

await assert.rejects(
  client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
  (error) => error instanceof OpenAI.BadRequestError && /messages/.test(error.message),
);
const unauthorised = new OpenAI({ baseURL: process.env.LLCUDA_URL, apiKey: "wrong", maxRetries: 0 });
await assert.rejects(unauthorised.models.list(), (error) => error instanceof OpenAI.AuthenticationError);

console.log(`openai package: chat, stream, completions, models and errors OK: "${streamed}"`);
