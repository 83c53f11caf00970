// The official openai package and tools against `llcuda serve` on a random-weight fixture:
// a chat with tools (whole and streamed, the streamed tool_calls deltas assembled by index as
// clients do, equal to the whole reply), then the conversation sent back with an assistant
// tool call and the tool's result, and the reply to that.
// Usage: LLCUDA_URL=http://127.0.0.1:PORT/v1 LLCUDA_KEY=... node tools.mjs
import assert from "node:assert/strict";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.LLCUDA_URL, apiKey: process.env.LLCUDA_KEY, maxRetries: 0 });
const model = (await client.models.list()).data[0].id;
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather of a city.",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];
const question = [{ role: "user", content: "What is the weather in Zürich?" }];
const base = { model, messages: question, tools, max_tokens: 16, temperature: 0, seed: 5 };

const whole = await client.chat.completions.create(base);
const choice = whole.choices[0];
assert.ok(["stop", "length", "tool_calls"].includes(choice.finish_reason), choice.finish_reason);
if (choice.finish_reason === "tool_calls") {
  assert.equal(choice.message.tool_calls[0].type, "function");
  JSON.parse(choice.message.tool_calls[0].function.arguments);
}

const stream = await client.chat.completions.create({ ...base, stream: true });
let content = "";
let finish = null;
const calls = [];
for await (const chunk of stream) {
  for (const entry of chunk.choices) {
    content += entry.delta.content ?? "";
    for (const delta of entry.delta.tool_calls ?? []) {
      calls[delta.index] ??= { id: delta.id, name: "", arguments: "" };
      calls[delta.index].name += delta.function?.name ?? "";
      calls[delta.index].arguments += delta.function?.arguments ?? "";
    }
    finish = entry.finish_reason ?? finish;
  }
}
assert.equal(finish, choice.finish_reason);
assert.equal(content, choice.message.content ?? "");
assert.deepEqual(
  calls.map((call) => [call.name, call.arguments]),
  (choice.message.tool_calls ?? []).map((call) => [call.function.name, call.function.arguments]),
);

// The tool's result sent back: the template renders the call and the result, and the model replies.
const followUp = await client.chat.completions.create({
  ...base,
  messages: [
    ...question,
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Zürich"}' } }],
    },
    { role: "tool", tool_call_id: "call_1", content: '{"temperature_c": 21}' },
  ],
});
assert.equal(followUp.choices[0].message.role, "assistant");
assert.ok(followUp.usage.prompt_tokens > whole.usage.prompt_tokens);

// tool_choice "required" (one call: parallel_tool_calls false): generation is held to a call, so
// even random weights give one that parses, arguments valid against the tool's schema, whole
// and streamed alike.
const alarm = {
  type: "function",
  function: {
    name: "set_alarm",
    parameters: {
      type: "object",
      properties: { hour: { type: "integer" }, zone: { enum: ["UTC", "CET"] } },
      required: ["hour", "zone"],
      additionalProperties: false,
    },
  },
};
const required = { ...base, tools: [alarm], tool_choice: "required", parallel_tool_calls: false, max_tokens: 160 };
const forced = (await client.chat.completions.create(required)).choices[0];
assert.equal(forced.finish_reason, "tool_calls");
assert.equal(forced.message.tool_calls.length, 1);
assert.equal(forced.message.tool_calls[0].function.name, "set_alarm");
const forcedArguments = JSON.parse(forced.message.tool_calls[0].function.arguments);
assert.ok(Number.isInteger(forcedArguments.hour) && ["UTC", "CET"].includes(forcedArguments.zone));
const forcedCalls = [];
let forcedFinish = null;
for await (const chunk of await client.chat.completions.create({ ...required, stream: true })) {
  for (const entry of chunk.choices) {
    for (const delta of entry.delta.tool_calls ?? []) {
      forcedCalls[delta.index] ??= { name: "", arguments: "" };
      forcedCalls[delta.index].name += delta.function?.name ?? "";
      forcedCalls[delta.index].arguments += delta.function?.arguments ?? "";
    }
    forcedFinish = entry.finish_reason ?? forcedFinish;
  }
}
assert.equal(forcedFinish, "tool_calls");
assert.deepEqual(forcedCalls, [{ name: "set_alarm", arguments: forced.message.tool_calls[0].function.arguments }]);
console.log(`openai package: tools on ${model} OK (finish_reason ${choice.finish_reason}; required: ${forced.message.tool_calls[0].function.arguments})`);
