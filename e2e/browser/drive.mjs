// Usage: node drive.mjs URL [SCREENSHOT.png]
//
// Opens URL in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM)
// with playwright-core, waits until the page's #results has data-state
// "done" or "failed", and prints one JSON object to stdout:
//
//	{"state": "done", "values": {"<data-key>": "<text>", ...},
//	 "console": [...], "pageErrors": [...], "failedRequests": [...],
//	 "launchMs": N, "loadMs": N}
//
// The machine has no outside network: the flags keep Chromium from reaching
// for Google's services at start. Exits 1 if the page did not finish.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url) {
  console.error("usage: node drive.mjs URL [SCREENSHOT.png]");
  process.exit(2);
}
const timeout = Number(process.env.DRIVE_TIMEOUT_MS || 30000);

const t0 = Date.now();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
  ],
});
const out = { state: "", values: {}, console: [], pageErrors: [], failedRequests: [], launchMs: Date.now() - t0, loadMs: 0 };
let code = 0;
try {
  const page = await browser.newPage();
  page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => out.pageErrors.push(String(e)));
  page.on("requestfailed", (r) => out.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  const t1 = Date.now();
  await page.goto(url, { timeout });
  try {
    await page.waitForSelector('#results[data-state="done"], #results[data-state="failed"]', { timeout, state: "attached" });
  } catch (e) {
    out.pageErrors.push(`waiting for #results: ${e.message}`);
    code = 1;
  }
  out.loadMs = Date.now() - t1;
  out.state = (await page.getAttribute("#results", "data-state")) ?? "";
  out.values = await page.$$eval("[data-key]", (els) => Object.fromEntries(els.map((e) => [e.dataset.key, e.textContent])));
  const failure = await page.$("#failure");
  if (failure) out.pageErrors.push(await failure.textContent());
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
process.exit(code);
