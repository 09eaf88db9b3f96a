// permessage-deflate (RFC 7692) in headless Chromium, which offers it on every connection: loads
// scripts/browser/deflate.html once per echo server given (the page connects, echoes a few
// messages of several KiB one at a time, closes with 1000) and checks what it saw: `ws.extensions`,
// each echo equal (compressed by the server from 1 KiB on, and by Chromium), a clean close. The
// offer and the answer are read from Chromium's DevTools protocol.
//
// usage: node deflate-check.mjs PAGE_FILE_URL PLAIN_URL DEFLATE_URL
//        PLAIN_URL: examples/echo_server as is (nothing may be negotiated);
//        DEFLATE_URL: examples/echo_server with PERMESSAGE_DEFLATE=1 (permessage-deflate must be).
//        (needs playwright-core; Chromium at $CHROMIUM or /usr/bin/chromium)
// Prints one "ok    ..." or "FAIL  ..." line per check; exits 1 if any failed.
import { chromium } from "playwright-core";

const [pageUrl, plainUrl, deflateUrl] = process.argv.slice(2);

let failed = false;
function check(condition, what) {
  console.log(`${condition ? "ok    " : "FAIL  "}${what}`);
  if (!condition) failed = true;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  for (const [url, deflate] of [[plainUrl, false], [deflateUrl, true]]) {
    const page = await browser.newPage();
    // The handshake's header fields, as Chromium sent and received them.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    const handshake = { offered: null, answered: null };
    cdp.on("Network.webSocketWillSendHandshakeRequest", (event) => {
      handshake.offered = event.request.headers["Sec-WebSocket-Extensions"] ?? null;
    });
    cdp.on("Network.webSocketHandshakeResponseReceived", (event) => {
      const headers = event.response.headers;
      const name = Object.keys(headers).find((key) => key.toLowerCase() === "sec-websocket-extensions");
      handshake.answered = name ? headers[name] : "";
    });
    await page.goto(`${pageUrl}?url=${encodeURIComponent(url)}`);
    await page.waitForFunction(() => document.title === "done", null, { timeout: 20000 });
    const result = await page.evaluate(() => window.result);
    const server = deflate ? "echo server with PERMESSAGE_DEFLATE=1" : "echo server without deflate";
    check(result.error === null, `Chromium -> ${server}: ${result.error ?? "no error"}`);
    check(handshake.offered !== null && handshake.offered.includes("permessage-deflate"),
      `Chromium offered ${JSON.stringify(handshake.offered)}; ${server} answered ${JSON.stringify(handshake.answered)}`);
    if (deflate) {
      check(typeof result.extensions === "string" && result.extensions.includes("permessage-deflate"),
        `${server}: ws.extensions contains permessage-deflate (${JSON.stringify(result.extensions)})`);
    } else {
      check(result.extensions === "", `${server}: ws.extensions is empty (${JSON.stringify(result.extensions)})`);
    }
    check(result.echoes.length === 5, `${server}: ${result.echoes.length} of 5 echoes received`);
    for (const echo of result.echoes) {
      check(echo.equal, `${server}: ${echo.label} (${echo.size} bytes) echoed equal`);
    }
    check(result.close !== null && result.close.code === 1000 && result.close.clean,
      `${server}: closed with 1000, clean (${JSON.stringify(result.close)})`);
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
