// Has headless Chromium send one message over the echo server's MAX_MESSAGE_SIZE, RUNS times
// (a new WebSocket each run, one browser), and reports what each close event said: the server
// must fail the connection with 1009 (Message Too Big) and its Close must reach the browser
// before the TCP connection ends, so that wasClean is true.
//
// usage: node oversize-check.mjs WS_URL [RUNS=20] [SIZE=70000]
// Prints one line per run on stderr and the verdict on stdout:
//   ok oversize: 20/20 close 1009 clean
//   FAIL oversize: 3/20 close 1009 clean (17x close 1006 not clean)
// Exits 0 on ok, 1 otherwise. Needs playwright-core; Chromium at $CHROMIUM or /usr/bin/chromium.
//
// The page comes from a tiny HTTP server of this script on 127.0.0.1: Chromium's Local Network
// Access checks block a WebSocket to 127.0.0.1 from a data: or about:blank page.
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const [url, runsArgument = "20", sizeArgument = "70000"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node oversize-check.mjs WS_URL [RUNS] [SIZE]");
  process.exit(2);
}
const runs = Number(runsArgument);
const size = Number(sizeArgument);

// One run, in the page: open, send `size` bytes as one binary message, wait for the close event
// (at most 10 s), and say what it carried.
function oversizeRun({ url, size }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const seen = { opened: false, error: false, messages: 0 };
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      resolve({ code: null, wasClean: null, reason: "no close event within 10 s", ...seen });
      socket.close();
    }, 10000);
    socket.onopen = () => {
      seen.opened = true;
      socket.send(new Uint8Array(size));
    };
    socket.onmessage = () => { seen.messages += 1; };
    socket.onerror = () => { seen.error = true; };
    socket.onclose = (event) => {
      clearTimeout(timer);
      resolve({ code: event.code, wasClean: event.wasClean, reason: event.reason, ...seen,
                ms: Math.round(performance.now() - started) });
    };
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pageServer = createServer((_request, response) => {
  response.writeHead(200, { "content-type": "text/html" });
  response.end("<!doctype html><title>oversize-check</title>");
});
await new Promise((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
let passed = 0;
const outcomes = new Map();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${pageServer.address().port}/`);
  for (let run = 1; run <= runs; run++) {
    const result = await page.evaluate(oversizeRun, { url, size });
    console.error(`run ${run}: ${JSON.stringify(result)}`);
    const outcome = result.code === null
      ? "no close event"
      : `close ${result.code} ${result.wasClean ? "clean" : "not clean"}`;
    outcomes.set(outcome, (outcomes.get(outcome) || 0) + 1);
    if (result.code === 1009 && result.wasClean === true) passed += 1;
  }
} finally {
  await browser.close();
  pageServer.close();
}
const others = [...outcomes].filter(([outcome]) => outcome !== "close 1009 clean")
  .map(([outcome, count]) => `${count}x ${outcome}`);
const verdict = passed === runs ? "ok" : "FAIL";
console.log(`${verdict} oversize: ${passed}/${runs} close 1009 clean` +
            (others.length ? ` (${others.join(", ")})` : ""));
process.exit(passed === runs ? 0 : 1);
