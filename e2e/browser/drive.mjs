// Usage: node drive.mjs URL...
//
// Opens each URL in turn, in one tab of one headless Chromium (Debian's
// /usr/bin/chromium, or $CHROMIUM) started by playwright-core, waits until
// the page's #results has data-state "done" or "failed", and prints one JSON
// object to stdout:
//
//	{"launchMs": N, "pages": [{"url": ..., "state": "done",
//	  "values": {"<data-key>": "<text>", ...}, "console": [...],
//	  "pageErrors": [...], "failedRequests": [...], "loadMs": N}, ...]}
//
// With SCREENSHOT_DIR set, it also saves each page as page-<i>.png there.
// The machine has no outside network: the flags keep Chromium from reaching
// for Google's services. Exits 1 if a page did not finish.
import { chromium } from "playwright-core";
import path from "node:path";

const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error("usage: node drive.mjs URL...");
  process.exit(2);
}
const timeout = Number(process.env.DRIVE_TIMEOUT_MS || 30000);
const screenshots = process.env.SCREENSHOT_DIR;

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
const out = { launchMs: Date.now() - t0, pages: [] };
let code = 0;
try {
  // One tab loads the pages one after the other.
  const page = await browser.newPage();
  let p;
  page.on("console", (m) => p.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => p.pageErrors.push(String(e)));
  page.on("requestfailed", (r) => p.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  for (const [i, url] of urls.entries()) {
    p = { url, state: "", values: {}, console: [], pageErrors: [], failedRequests: [], loadMs: 0 };
    out.pages.push(p);
    const t1 = Date.now();
    try {
      await page.goto(url, { timeout });
      await page.waitForSelector('#results[data-state="done"], #results[data-state="failed"]', { timeout, state: "attached" });
    } catch (e) {
      p.pageErrors.push(`loading the page: ${e.message}`);
    }
    p.loadMs = Date.now() - t1;
    p.state = (await page.getAttribute("#results", "data-state").catch(() => "")) ?? "";
    if (p.state !== "done") code = 1;
    p.values = await page.$$eval("[data-key]", (els) => Object.fromEntries(els.map((e) => [e.dataset.key, e.textContent])));
    const failure = await page.$("#failure");
    if (failure) p.pageErrors.push(await failure.textContent());
    if (screenshots) await page.screenshot({ path: path.join(screenshots, `page-${i}.png`), fullPage: true });
  }
} finally {
  await browser.close();
}
// Exit only once stdout has taken everything: a pipe takes 64 KiB at once,
// and process.exit would drop the rest.
process.stdout.write(JSON.stringify(out, null, 2) + "\n", () => process.exit(code));
