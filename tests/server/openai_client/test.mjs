// The official openai package against a running `llcuda serve`: a chat completion, a streamed
// one, a models listing, embeddings (base64 and float), and API errors surfacing as the
// package's error classes.
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

// embeddings.create asks for base64 unless told otherwise and decodes the float32s itself.
const embedded = await client.embeddings.create({ model, input: ["Once upon a time", "A big dog."] });
assert.equal(embedded.data.length, 2);
assert.ok(embedded.usage.prompt_tokens > 2);
for (const item of embedded.data) assert.ok(Math.abs(Math.hypot(...item.embedding) - 1) < 1e-5);
const floats = await client.embeddings.create({ model, input: "Once upon a time", encoding_format: "float" });
assert.equal(floats.data[0].embedding.length, embedded.data[0].embedding.length);
// JSON carries each float32 as its shortest decimal, base64 as its bits: equal as float32s.
assert.deepEqual(Float32Array.from(floats.data[0].embedding), Float32Array.from(embedded.data[0].embedding));
await assert.rejects(
  client.embeddings.create({ model, input: "Hi", dimensions: 3 }),
  (error) => error instanceof OpenAI.BadRequestError && error.param === "dimensions",
);

console.log(`openai package: chat, stream, completions, models, embeddings and errors OK: "${streamed}"`);
