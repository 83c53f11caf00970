// The web chat page (GET /) in Debian's headless Chromium through playwright-core: the key typed
// into the page, the model picked from /v1/models, a message typed and its reply streamed with
// tokens/s shown, a long reply stopped with the Stop button, then a screenshot.
// Environment: LLCUDA_BASE (http://127.0.0.1:PORT), LLCUDA_KEY, LLCUDA_MODEL (the id served),
// SCREENSHOT (where the PNG goes), CHROMIUM (default /usr/bin/chromium).
import {readFileSync, statSync} from "node:fs";
import {chromium} from "playwright-core";

const base = process.env.LLCUDA_BASE;
const screenshot = process.env.SCREENSHOT;

function check(condition, what) {
  if (!condition) throw new Error("failed: " + what);
}

// Tests run as root in CI's container and here; Chromium refuses to start its sandbox as root
// ("Running as root without --no-sandbox is not supported"), so it runs without it. The page
// is our own, served from loopback.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
});
try {
  const page = await browser.newPage({viewport: {width: 1000, height: 700}});
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(base + "/");
  check((await page.title()).length > 0, "the page has a title");

  // With --api-key and no key typed, the page says on load that it needs one.
  await page.waitForSelector("#key-notice:not([hidden])", {timeout: 10000});
  const notice = await page.textContent("#key-notice");
  console.log("without a key:", JSON.stringify(notice));
  check(/needs an API key/.test(notice), "the page says the server needs an API key: " + notice);
  // A wrong key: the notice says the key was refused.
  await page.fill("#key", "wrong-key");
  await page.dispatchEvent("#key", "change");
  await page.waitForFunction(
      () => /refused this API key/.test(document.getElementById("key-notice").textContent),
      null, {timeout: 10000});

  // With --api-key the model list needs the key typed into the page (loaded on change).
  await page.fill("#key", process.env.LLCUDA_KEY);
  await page.dispatchEvent("#key", "change");
  await page.waitForFunction(
      (model) => [...document.querySelectorAll("#model option")].some((o) => o.value === model),
      process.env.LLCUDA_MODEL, {timeout: 10000});
  check(await page.isHidden("#key-notice"), "the notice is gone once the key is right");
  await page.selectOption("#model", process.env.LLCUDA_MODEL);
  console.log("model picked:", await page.inputValue("#model"));

  // A short reply, greedy: streamed in several deltas, then tokens/s under it.
  await page.fill("#temperature", "0");
  await page.fill("#max_tokens", "24");
  await page.fill("#input", "Once upon a time");
  await page.press("#input", "Enter");
  const first = page.locator(".message.assistant").nth(0);
  await first.locator(".stats").waitFor({timeout: 20000});
  const stats = await first.locator(".stats").textContent();
  console.log("first reply:", JSON.stringify((await first.textContent()).slice(0, 80)));
  console.log("first stats:", stats);
  check(await first.getAttribute("data-done") === "1", "the first reply ended normally");
  const shown = stats.match(/(\d+) tokens · ([\d.]+) tokens\/s/);
  check(shown !== null, "tokens/s shown: " + stats);
  check(Number(shown[1]) > 1, "the reply came in several streamed deltas: " + stats);
  check(Number(shown[2]) > 0, "a positive tokens/s: " + stats);
  check(await page.locator(".message.user").first().textContent() === "Once upon a time",
        "the user's message is shown");

  // A long reply, stopped once it has started: the page says so and is ready for the next.
  await page.fill("#max_tokens", "3000");
  await page.fill("#input", "Tell me a long story");
  await page.press("#input", "Enter");
  const second = page.locator(".message.assistant").nth(1);
  await page.waitForFunction(() => {
    const replies = document.querySelectorAll(".message.assistant");
    return replies.length > 1 && replies[1].textContent.length > 40;
  }, null, {timeout: 20000});
  check(await page.isEnabled("#stop"), "Stop is enabled while a reply streams");
  await page.click("#stop");
  await second.locator(".stats").waitFor({timeout: 10000});
  const stopped = await second.locator(".stats").textContent();
  console.log("stopped stats:", stopped);
  check(stopped.includes("stopped"), "the stopped reply says so: " + stopped);
  check(await second.getAttribute("data-done") === null, "the stopped reply did not end normally");
  const count = Number((stopped.match(/(\d+) tokens/) || [0, 3000])[1]);
  check(count < 3000, "the reply stopped before max_tokens: " + stopped);
  check(await page.isDisabled("#stop") && await page.isEnabled("#send"), "ready for the next");
  check(errors.length === 0, "no script errors: " + errors.join("; "));

  await page.screenshot({path: screenshot, fullPage: true});
  const png = readFileSync(screenshot);
  check(png.subarray(1, 4).toString() === "PNG", "the screenshot is a PNG");
  // IHDR: width and height are the big-endian words at bytes 16 and 20.
  console.log(`screenshot: ${screenshot} ${png.readUInt32BE(16)}x${png.readUInt32BE(20)} ` +
              `${statSync(screenshot).size} bytes`);
} finally {
  await browser.close();
}
console.log("ok");
