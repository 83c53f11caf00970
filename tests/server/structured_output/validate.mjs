// 100 json_schema requests to llcuda serve (chat and completions, several schemas, seeds,
// temperatures and samplers), each reply validated against its schema by ajv; then the 400s
// for what cannot be enforced. LLCUDA_URL (…/v1) and LLCUDA_KEY from test_structured_output.py.
import Ajv from "ajv";

const url = process.env.LLCUDA_URL;
const headers = { "Content-Type": "application/json", Authorization: `Bearer ${process.env.LLCUDA_KEY}` };
const ajv = new Ajv({ allErrors: true });

const schemas = [
  {
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 16 },
      age: { type: "integer" },
      tags: { type: "array", items: { enum: ["red", "green", "blue"] }, maxItems: 3 },
    },
    required: ["name", "age", "tags"],
    additionalProperties: false,
  },
  {
    type: "object",
    properties: {
      title: { type: "string", maxLength: 24 },
      done: { type: "boolean" },
      priority: { enum: ["low", "high"] },
      note: { anyOf: [{ type: "string", maxLength: 10 }, { type: "null" }] },
    },
    required: ["title", "done"],
  },
  {
    type: "array",
    items: {
      type: "object",
      properties: { x: { type: "integer" }, y: { type: "integer" } },
      required: ["x", "y"],
    },
    minItems: 1,
    maxItems: 3,
  },
  { $defs: { color: { enum: ["red", "blue"] } }, type: "object",
    properties: { color: { $ref: "#/$defs/color" }, count: { type: ["integer", "null"] } },
    required: ["color", "count"] },
];
const samplers = [
  { temperature: 0 },
  { temperature: 0.7 },
  { temperature: 1.0 },
  { temperature: 1.5 },
  { temperature: 1.0, top_k: 40, top_p: 0.95, min_p: 0.05 },
  { temperature: 1.2, top_p: 0.9 },
];

async function post(path, body) {
  const response = await fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function one(i) {
  const schema = schemas[i % schemas.length];
  const chat = i % 2 === 0;
  const body = {
    max_tokens: 400,
    seed: 1000 + i,
    ...samplers[i % samplers.length],
    response_format: { type: "json_schema", json_schema: { name: `s${i % schemas.length}`, schema, strict: true } },
  };
  if (chat) body.messages = [{ role: "user", content: `Tell me about thing ${i}.` }];
  else body.prompt = i % 3 === 0 ? "" : "Once upon a time";
  const { status, body: reply } = await post(chat ? "/chat/completions" : "/completions", body);
  if (status !== 200) throw new Error(`request ${i}: HTTP ${status} ${JSON.stringify(reply)}`);
  const choice = reply.choices[0];
  const text = chat ? choice.message.content : choice.text;
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`request ${i} (${JSON.stringify(body)}): not JSON (${choice.finish_reason}): ${text}`);
  }
  const validate = ajv.compile(schema);
  if (!validate(value))
    throw new Error(`request ${i}: invalid against its schema: ${text} ${JSON.stringify(validate.errors)}`);
  if (choice.finish_reason !== "stop") throw new Error(`request ${i}: finish_reason ${choice.finish_reason}`);
  return text;
}

const total = 100;
let next = 0, valid = 0;
const examples = [];
async function worker() {
  while (next < total) {
    const i = next++;
    const text = await one(i);
    ++valid;
    if (i < 4) examples.push(text);
  }
}
await Promise.all([worker(), worker(), worker(), worker()]);
console.log(`json_schema: ${valid}/${total} replies valid against their schemas (ajv ${ajv.constructor.name})`);
for (const text of examples) console.log(`  e.g. ${text}`);

// What cannot be enforced is a 400 naming the field, never an unconstrained run.
const refusals = [
  [{ type: "json_schema", json_schema: { name: "p", schema: { type: "string", pattern: "a+" } } },
   "response_format.json_schema.schema", "'pattern'"],
  [{ type: "yaml" }, "response_format.type", "yaml"],
];
for (const [format, param, word] of refusals) {
  const { status, body } = await post("/chat/completions",
    { messages: [{ role: "user", content: "hi" }], response_format: format });
  if (status !== 400 || body.error.param !== param || !body.error.message.includes(word))
    throw new Error(`expected a 400 naming ${param}: ${status} ${JSON.stringify(body)}`);
}
const bad = await post("/completions", { prompt: "x", grammar: "root ::= (" });
if (bad.status !== 400 || bad.body.error.param !== "grammar" || !bad.body.error.message.includes("line 1"))
  throw new Error(`expected the GBNF parser's 400: ${bad.status} ${JSON.stringify(bad.body)}`);
const yes = await post("/completions", { prompt: "x", grammar: 'root ::= "yes" | "no"', temperature: 1, seed: 3 });
if (yes.status !== 200 || !["yes", "no"].includes(yes.body.choices[0].text))
  throw new Error(`grammar yes|no gave ${JSON.stringify(yes.body)}`);
console.log("refusals: unsupported keyword, unknown type and a GBNF that does not parse are 400s naming them");
