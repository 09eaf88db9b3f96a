// Checks the chat example (examples/chat.rs) in headless Chromium: two pages join, talk, echo,
// disconnect; permessage-deflate is negotiated and a long message comes back whole; malformed
// messages and foreign subprotocols are refused; Ctrl-C closes with 1001.
// Screenshots are saved and decoded (PNG, with node's zlib) to check what the pages show.
//
// usage: node chat-check.mjs PORT SERVER_PID SCREENSHOT_DIR
//        (needs playwright-core; Chromium at $CHROMIUM or /usr/bin/chromium)
// Prints one "chat-check: ok: ..." line per check; exits 1 at the first failure.
import { chromium } from "playwright-core";
import { inflateSync } from "node:zlib";
import { request as httpRequest } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [port, serverPid, screenshotDir] = process.argv.slice(2);
const urlA = `http://localhost:${port}/`; // what the doc comment tells users to open
const urlB = `http://127.0.0.1:${port}/`;

// The page's colours (examples/chat/chat.css).
const GREEN = [24, 128, 56]; // .status.open
const RED = [197, 34, 31]; // .status.closed
const WHITE = [255, 255, 255]; // #messages background
const MINE = [210, 227, 252]; // li.mine: my message to everyone
const OTHER = [230, 244, 234]; // li.other: someone else's
const ECHO = [254, 247, 224]; // li.echo: echoed to me only

class CheckFailed extends Error {}

function ok(what) {
  console.log(`chat-check: ok: ${what}`);
}

function check(condition, what, detail = "") {
  if (!condition) throw new CheckFailed(`${what}${detail ? ` (${detail})` : ""}`);
  ok(what);
}

/** Waits until `predicate(arg)` is true in the page, or fails with `what`. */
async function waitFor(page, what, predicate, arg) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: 5000 });
  } catch {
    const state = await page.evaluate(() => ({
      status: document.getElementById("status").textContent,
      error: document.getElementById("error").textContent,
      users: [...document.querySelectorAll("#users li")].map((li) => li.textContent),
      messages: [...document.querySelectorAll("#messages li")].map((li) => `${li.className}: ${li.textContent}`),
    }));
    throw new CheckFailed(`timed out waiting for: ${what}; the page shows ${JSON.stringify(state)}`);
  }
}

// --- HTTP: the compiled-in assets, 404, 426, 403 -------------------------------------------

/** One raw HTTP/1.1 request (the path is sent as is: no normalisation of "..").*/
function fetchRaw(path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, headers });
    req.on("response", (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode, type: response.headers["content-type"] }));
    });
    req.on("upgrade", (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode, type: response.headers["content-type"] });
    });
    req.on("error", reject);
    req.end();
  });
}

async function checkHttp() {
  for (const [path, type] of [
    ["/", "text/html; charset=utf-8"],
    ["/chat.css", "text/css; charset=utf-8"],
    ["/chat.js", "text/javascript; charset=utf-8"],
  ]) {
    const answer = await fetchRaw(path);
    check(answer.status === 200 && answer.type === type, `GET ${path}: 200 ${type}`, JSON.stringify(answer));
  }
  for (const path of ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/chat/index.html", "/missing"]) {
    const answer = await fetchRaw(path);
    check(answer.status === 404, `GET ${path}: 404`, JSON.stringify(answer));
  }
  const plain = await fetchRaw("/ws");
  check(plain.status === 426, "GET /ws without an upgrade: 426", JSON.stringify(plain));
  const upgrade = {
    Connection: "Upgrade",
    Upgrade: "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Protocol": "chat",
  };
  const foreign = await fetchRaw("/ws", { ...upgrade, Origin: "http://evil.example" });
  check(foreign.status === 403, "upgrade from another origin: 403", JSON.stringify(foreign));
  const elsewhere = await fetchRaw("/chat", upgrade);
  check(elsewhere.status === 404, "upgrade to a path other than /ws: 404", JSON.stringify(elsewhere));
}

// --- PNG decoding (8-bit RGB or RGBA, not interlaced: what Chromium writes) -----------------

function decodePng(buffer) {
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  if (!buffer.subarray(0, 8).equals(signature)) throw new CheckFailed("screenshot is not a PNG");
  let header = null;
  const data = [];
  for (let offset = 8; offset < buffer.length; ) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString("latin1", offset + 4, offset + 8);
    const body = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      header = {
        width: body.readUInt32BE(0), height: body.readUInt32BE(4),
        depth: body[8], colour: body[9], interlace: body[12],
      };
    } else if (type === "IDAT") {
      data.push(body);
    } else if (type === "IEND") {
      break;
    }
    offset += 12 + length;
  }
  if (!header || header.depth !== 8 || header.interlace !== 0 || ![2, 6].includes(header.colour)) {
    throw new CheckFailed(`unsupported PNG ${JSON.stringify(header)}`);
  }
  const { width, height } = header;
  const channels = header.colour === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(data));
  const pixels = Buffer.alloc(stride * height);
  // PNG §9: each line starts with its filter type; reconstruct from the left (a), above (b)
  // and above-left (c) bytes.
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = y * (stride + 1) + 1;
    const out = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[out + x - channels] : 0;
      const b = y > 0 ? pixels[out - stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[out - stride + x - channels] : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new CheckFailed(`bad PNG filter ${filter}`);
      pixels[out + x] = (raw[line + x] + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** Counts the pixels inside `box` (inset by 2 px, away from borders) for which `keep(rgb)`. */
function countPixels(image, box, keep) {
  const left = Math.max(0, Math.ceil(box.x) + 2);
  const top = Math.max(0, Math.ceil(box.y) + 2);
  const right = Math.min(image.width, Math.floor(box.x + box.width) - 2);
  const bottom = Math.min(image.height, Math.floor(box.y + box.height) - 2);
  let count = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const at = (y * image.width + x) * image.channels;
      if (keep([image.pixels[at], image.pixels[at + 1], image.pixels[at + 2]])) count++;
    }
  }
  return { count, area: Math.max(0, right - left) * Math.max(0, bottom - top) };
}

const is = (colour) => (rgb) => rgb[0] === colour[0] && rgb[1] === colour[1] && rgb[2] === colour[2];

/** Takes a screenshot of `page`, saves it, and returns it decoded with the boxes of interest. */
async function screenshot(page, name) {
  const png = await page.screenshot();
  const path = join(screenshotDir, `chat-${name}.png`);
  writeFileSync(path, png);
  const image = decodePng(png);
  image.status = await page.locator("#status").boundingBox();
  image.messages = await page.locator("#messages").boundingBox();
  image.users = await page.locator("#users").boundingBox();
  console.log(`chat-check: saved ${path} (${image.width}x${image.height})`);
  return image;
}

function checkStatusColour(image, who, colour, colourName) {
  const { count, area } = countPixels(image, image.status, is(colour));
  check(area > 0 && count / area > 0.4,
    `${who}'s screenshot: status indicator is ${colourName} (${count} of ${area} pixels)`);
}

function checkBubbles(image, who, expected) {
  for (const [colour, name, present] of expected) {
    const { count } = countPixels(image, image.messages, is(colour));
    if (present) check(count > 500, `${who}'s screenshot: the message list shows ${name} (${count} pixels)`);
    else check(count === 0, `${who}'s screenshot: the message list shows no ${name} (${count} pixels)`);
  }
  // Glyphs: pixels that are neither the list's background nor a bubble's.
  const backgrounds = [WHITE, MINE, OTHER, ECHO].map(is);
  const { count } = countPixels(image, image.messages, (rgb) => !backgrounds.some((match) => match(rgb)));
  check(count > 300, `${who}'s screenshot: text is rendered in the message list (${count} text pixels)`);
}

/** Pixels of text in the user list: anything but its white background. */
function userListInk(image) {
  return countPixels(image, image.users, (rgb) => !is(WHITE)(rgb)).count;
}

// --- the pages -------------------------------------------------------------------------------

const users = (page) => page.$$eval("#users li", (items) => items.map((item) => item.textContent));
const messages = (page) => page.$$eval("#messages li", (items) => items.map((item) => item.textContent));
const hasMessage = ([kind, text]) =>
  [...document.querySelectorAll(`#messages li.${kind}`)].some((li) => li.textContent.includes(text));

async function open(browser, url, who) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`chat-check: ${who}'s page threw: ${error}`));
  await page.goto(url);
  await waitFor(page, `${who}'s page to connect`, () => document.getElementById("status").classList.contains("open"));
  return page;
}

async function joinAs(page, name) {
  await page.fill("#name", name);
  await page.click("#join button");
  await waitFor(page, `${name} to be welcomed`, (name) => window.chatSocket && !document.getElementById("text").disabled
    && document.getElementById("status").textContent.includes(`as ${name}`), name);
}

async function say(page, text, to) {
  await page.check(`input[name="to"][value="${to}"]`);
  await page.fill("#text", text);
  await page.click("#send button");
}

/** Opens a WebSocket from `page`, sends `payload` (if any) once open, and reports how it ended. */
function rawSocket(page, protocols, payload) {
  return page.evaluate(([protocols, payload]) => new Promise((resolve) => {
    const socket = new WebSocket(`ws://${location.host}/ws`, protocols);
    let opened = false;
    socket.onopen = () => {
      opened = true;
      if (payload === null) socket.close(1000, "done");
      else socket.send(payload.binary ? new Uint8Array(payload.binary) : payload.text);
    };
    socket.onclose = (event) => resolve({ opened, protocol: socket.protocol, code: event.code, reason: event.reason });
  }), [protocols, payload]);
}

async function main() {
  mkdirSync(screenshotDir, { recursive: true });
  await checkHttp();

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  try {
    const a = await open(browser, urlA, "A");
    const b = await open(browser, urlB, "B");
    for (const [page, who] of [[a, "A"], [b, "B"]]) {
      const protocol = await page.evaluate(() => window.chatSocket.protocol);
      check(protocol === "chat", `${who}: negotiated subprotocol is "chat" (ws.protocol)`, JSON.stringify(protocol));
      // Chromium offers permessage-deflate (RFC 7692) on every connection; chat accepts it.
      const extensions = await page.evaluate(() => window.chatSocket.extensions);
      check(extensions.includes("permessage-deflate"),
        `${who}: permessage-deflate is negotiated (ws.extensions ${JSON.stringify(extensions)})`);
    }

    await joinAs(a, "Ada");
    await joinAs(b, "Grace");
    ok("A joined as Ada, B joined as Grace");
    const both = (expected) => JSON.stringify(expected);
    for (const [page, who] of [[a, "A"], [b, "B"]]) {
      await waitFor(page, `${who} to list Ada and Grace`,
        () => [...document.querySelectorAll("#users li")].map((li) => li.textContent).join() === "Ada,Grace");
      check(both(await users(page)) === both(["Ada", "Grace"]), `${who} sees both users in the list`);
    }
    await waitFor(a, "A to be told Grace joined", hasMessage, ["notice", "Grace joined"]);
    ok("A was told Grace joined");

    // Refused names: the connection stays open, the page shows why.
    const c = await open(browser, urlB, "C");
    for (const [name, why] of [["ADA", "taken"], ["   ", "choose a name"], ["x".repeat(33), "at most 32"]]) {
      await c.evaluate((name) => window.chatSocket.send(JSON.stringify({ type: "join", name })), name);
      await waitFor(c, `C to be refused the name ${JSON.stringify(name)}`,
        (why) => document.getElementById("error").textContent.includes(why), why);
      ok(`the name ${JSON.stringify(name)} is refused ("${await c.textContent("#error")}"), connection open`);
      await c.evaluate(() => { document.getElementById("error").textContent = ""; });
    }
    check(await c.evaluate(() => window.chatSocket.readyState === WebSocket.OPEN), "C is still connected after the refusals");
    await c.context().close();

    await say(a, "hello from Ada", "all");
    await waitFor(b, "B to show Ada's message to everyone", hasMessage, ["other", "hello from Ada"]);
    ok("B shows Ada's message to everyone");
    await waitFor(a, "A to show its own message to everyone", hasMessage, ["mine", "hello from Ada"]);
    ok("A shows its own message to everyone");

    await say(b, "note to self", "me");
    await waitFor(b, "B to show its echo", hasMessage, ["echo", "note to self"]);
    ok("B shows its \"echo to me\" message");
    // The server keeps each client's messages in order: once A has Grace's next message to
    // everyone, an echo wrongly sent to A would have arrived before it.
    await say(b, "barrier from Grace", "all");
    await waitFor(a, "A to show Grace's next message", hasMessage, ["other", "barrier from Grace"]);
    check(!(await messages(a)).some((text) => text.includes("note to self")), "A did not get B's \"echo to me\" message");

    const shotA = await screenshot(a, "a-connected");
    checkStatusColour(shotA, "A", GREEN, "green (connected)");
    checkBubbles(shotA, "A", [[MINE, "its own message", true], [OTHER, "Grace's message", true], [ECHO, "echo", false]]);
    const shotB = await screenshot(b, "b-connected");
    checkStatusColour(shotB, "B", GREEN, "green (connected)");
    checkBubbles(shotB, "B", [[OTHER, "Ada's message", true], [ECHO, "its echo", true], [MINE, "its own message", true]]);

    // A message of 2000 characters (the most chat takes), in a JSON message of 2,383 bytes:
    // compressed by Chromium (it deflates every message), and by the server (from 1 KiB on) on
    // its way back.
    const long = "compressed both ways, κόσμε! ".repeat(70).slice(0, 2000);
    await b.evaluate((text) => window.chatSocket.send(JSON.stringify({ type: "message", text, to: "me" })), long);
    await waitFor(b, "B to show its long \"echo to me\" message",
      (text) => [...document.querySelectorAll("#messages li.echo")].some((li) => li.textContent.includes(text)), long);
    ok("B's 2000-character message (2,383 bytes of JSON, compressed both ways) came back whole");

    // Malformed input closes that client (and only that client) with 1008 / 1003.
    for (const [payload, code, reason] of [
      [{ text: "{not json" }, 1008, "invalid JSON"],
      [{ text: '{"type":"message","text":1,"to":"all"}' }, 1008, 'field "text" must be a string'],
      [{ text: '{"type":"join","name":"Eve","admin":true}' }, 1008, 'unexpected field "admin"'],
      [{ text: '{"type":"shout"}' }, 1008, 'unknown type "shout"'],
      [{ binary: [1, 2, 3] }, 1003, "binary messages"],
    ]) {
      const outcome = await rawSocket(b, ["chat"], payload);
      check(outcome.opened && outcome.code === code && outcome.reason.startsWith(reason),
        `${JSON.stringify(payload.text ?? "binary")} closes that client with ${code} "${outcome.reason}"`,
        JSON.stringify(outcome));
    }
    // Subprotocols: none offered is served; only foreign ones get no subprotocol, and the
    // browser fails the connection itself.
    const none = await rawSocket(b, [], null);
    check(none.opened && none.protocol === "" && none.code === 1000, "a client offering no subprotocol is served",
      JSON.stringify(none));
    const foreign = await rawSocket(b, ["superchat"], null);
    check(!foreign.opened && foreign.code === 1006, "a client offering only \"superchat\" is declined (browser fails it: 1006)",
      JSON.stringify(foreign));
    for (const [page, who] of [[a, "A"], [b, "B"]]) {
      check(await page.evaluate(() => window.chatSocket.readyState === WebSocket.OPEN), `${who} is unaffected by the bad clients`);
    }

    await a.click("#disconnect");
    await waitFor(a, "A to show it is disconnected with 1000",
      () => document.getElementById("status").className === "status closed"
        && document.getElementById("status").textContent.includes("1000"));
    ok(`A disconnected: "${await a.textContent("#status")}"`);
    await waitFor(b, "B to be told Ada left", hasMessage, ["notice", "Ada left"]);
    await waitFor(b, "B's user list to hold only Grace",
      () => [...document.querySelectorAll("#users li")].map((li) => li.textContent).join() === "Grace");
    ok("B sees Ada leave (notice, user list now [\"Grace\"])");

    const shotA2 = await screenshot(a, "a-disconnected");
    checkStatusColour(shotA2, "A", RED, "red (disconnected)");
    check(countPixels(shotA2, shotA2.status, is(GREEN)).count === 0, "A's screenshot: no green left in the status indicator");
    const shotB2 = await screenshot(b, "b-after-ada-left");
    checkStatusColour(shotB2, "B", GREEN, "green (still connected)");
    const [inkBefore, inkAfter] = [userListInk(shotB), userListInk(shotB2)];
    check(inkAfter > 0 && inkAfter < inkBefore,
      `B's screenshots: the user list holds less text once Ada left (${inkBefore} -> ${inkAfter} text pixels)`);

    // Connect again: a fresh connection, not joined, so B's list does not change.
    await a.click("#connect");
    await waitFor(a, "A to reconnect", () => document.getElementById("status").classList.contains("open"));
    await waitFor(a, "A's reconnected page to list Grace",
      () => [...document.querySelectorAll("#users li")].map((li) => li.textContent).join() === "Grace");
    check(await a.evaluate(() => window.chatSocket.protocol === "chat" && !document.getElementById("name").disabled),
      "A reconnects with the Connect button (subprotocol chat, name box enabled, list shows Grace)");

    // Ctrl-C: the server closes every connection with 1001 (Going Away).
    process.kill(Number(serverPid), "SIGINT");
    for (const [page, who] of [[a, "A"], [b, "B"]]) {
      await waitFor(page, `${who} to be closed with 1001 when the server stops`,
        () => document.getElementById("status").textContent.includes("1001"));
      ok(`Ctrl-C on the server: ${who} shows "${await page.textContent("#status")}"`);
    }
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(`chat-check: FAILED: ${error instanceof CheckFailed ? error.message : error.stack}`);
  process.exit(1);
}
