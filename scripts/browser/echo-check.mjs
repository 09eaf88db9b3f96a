// Loads the course's echo page in headless Chromium and prints what it logged once the socket
// closed. usage: node echo-check.mjs PAGE_URL   (needs playwright-core; Chromium at /usr/bin/chromium)
import { chromium } from "playwright-core";

const page_url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(page_url);
  await page.waitForFunction(() => document.title === "closed", null, { timeout: 20000 });
  console.log(await page.textContent("#log"));
} finally {
  await browser.close();
}
