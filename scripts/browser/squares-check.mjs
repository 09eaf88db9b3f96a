// Checks examples/squares.rs with two headless Chromium pages: the assets, both squares on both
// pages, a mouse drag on page A seen by page B, a touch drag on page B seen by page A, screenshots
// whose pixels show both squares where they should be, bad messages closed with the documented
// codes, a leave, and Ctrl-C closing with 1001. Prints one "ok" line per check; exits 1 on the
// first failure.
//
// usage: node squares-check.mjs PORT SCREENSHOT_DIR [SERVER_PID]
//   (needs playwright-core; Chromium from $CHROMIUM or /usr/bin/chromium). With SERVER_PID, the
//   last check sends it SIGINT and expects the open page to be closed with 1001.
import { chromium } from "playwright-core";
import { request } from "node:http";
import { mkdirSync } from "node:fs";
import { inflateSync } from "node:zlib";

const [port, screenshots, serverPid] = process.argv.slice(2);
const urlA = `http://127.0.0.1:${port}/`; // page A over IPv4, page B over IPv6
const urlB = `http://[::1]:${port}/`;
const BACKGROUND = [0xf0, 0xf0, 0xf0]; // #board's background in squares.css

const ok = (message) => console.log(`squares-check: ok: ${message}`);
class CheckFailed extends Error {}
const check = (condition, message) => {
  if (!condition) throw new CheckFailed(message);
};

// --- plain HTTP, with raw paths (fetch would normalise "/../") ---------------------------------

function get(path, method = "GET") {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode, type: response.headers["content-type"], body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function checkAssets() {
  const expected = [
    ["/", 200, "text/html; charset=utf-8"],
    ["/squares.js", 200, "text/javascript; charset=utf-8"],
    ["/squares.css", 200, "text/css; charset=utf-8"],
    ["/ws", 426, null],
    ["/nope", 404, null],
    ["/../Cargo.toml", 404, null],
    ["/squares/../squares.js", 404, null],
    ["/examples/squares/index.html", 404, null],
  ];
  for (const [path, status, type] of expected) {
    const response = await get(path);
    check(response.status === status, `GET ${path}: status ${response.status}, expected ${status}`);
    if (type) check(response.type === type, `GET ${path}: Content-Type ${response.type}, expected ${type}`);
  }
  const post = await get("/", "POST");
  check(post.status === 405, `POST /: status ${post.status}, expected 405`);
  ok("assets served with their content types; plain GET /ws 426, unknown and traversing paths 404, POST 405");
}

// --- PNG decoding: enough for Chromium's screenshots (8-bit RGB/RGBA, not interlaced) ---------

function decodePng(png) {
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  check(png.subarray(0, 8).equals(signature), "screenshot is not a PNG");
  let width, height, depth, colourType, interlace;
  const idat = [];
  for (let offset = 8; offset + 8 <= png.length; ) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    offset += 12 + length; // length, type, data, CRC
    if (type === "IHDR") {
      [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
      [depth, colourType, interlace] = [data[8], data[9], data[12]];
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
  }
  check(depth === 8 && (colourType === 2 || colourType === 6) && interlace === 0,
    `unsupported PNG: depth ${depth}, colour type ${colourType}, interlace ${interlace}`);
  const channels = colourType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  check(raw.length === height * (stride + 1), "PNG image data has the wrong size");
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[row + x - channels] : 0; // left
      const b = y > 0 ? pixels[row - stride + x] : 0; // up
      const c = x >= channels && y > 0 ? pixels[row - stride + x - channels] : 0; // up left
      let predictor;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new CheckFailed(`PNG row ${y} has unknown filter ${filter}`);
      }
      pixels[row + x] = (line[x] + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at], pixels[at + 1], pixels[at + 2]];
    },
  };
}

const hexToRgb = (hex) => [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
const near = (rgb, expected) => rgb.every((value, index) => Math.abs(value - expected[index]) <= 6);

// The screenshot pixel at the centre of a square at board position (x, y).
const centreOf = (board, x, y) => [
  Math.round(board.left + (x + board.square / 2) * board.scale),
  Math.round(board.top + (y + board.square / 2) * board.scale),
];

// The share of pixels of `colour` in the 24x24 patch at the centre of a square at (x, y).
function share(image, board, x, y, colour) {
  const [centreX, centreY] = centreOf(board, x, y);
  let matching = 0;
  let total = 0;
  for (let dy = -12; dy < 12; dy++) {
    for (let dx = -12; dx < 12; dx++) {
      total += 1;
      if (near(image.rgb(centreX + dx, centreY + dy), colour)) matching += 1;
    }
  }
  return matching / total;
}

// --- the pages --------------------------------------------------------------------------------

// What a page shows: its own id and every square, from the DOM.
const view = (page) =>
  page.evaluate(() => ({
    me: Number(document.body.dataset.me),
    squares: [...document.querySelectorAll("#board .square")].map((element) => ({
      id: Number(element.dataset.id),
      colour: element.dataset.colour,
      x: Number(element.dataset.x),
      y: Number(element.dataset.y),
      mine: element.classList.contains("mine"),
    })),
  }));

// The board's padding box in viewport pixels and the pixels per board unit.
const boardGeometry = (page) =>
  page.evaluate(() => {
    const board = document.getElementById("board");
    const rect = board.getBoundingClientRect();
    return {
      left: rect.left + board.clientLeft,
      top: rect.top + board.clientTop,
      scale: board.clientWidth / Number(board.dataset.width), // from the welcome's "board"
      square: Number(board.dataset.square),
    };
  });

// Waits until `page` shows square `id` at (x, y); returns false after 5 s.
const seesAt = (page, id, x, y) =>
  page
    .waitForFunction(
      ([id, x, y]) => {
        const element = document.querySelector(`#board .square[data-id="${id}"]`);
        return element && Number(element.dataset.x) === x && Number(element.dataset.y) === y;
      },
      [id, x, y],
      { timeout: 5000 },
    )
    .then(() => true, () => false);

// Waits until `page` shows exactly `count` squares; returns false after 5 s.
const seesCount = (page, count) =>
  page
    .waitForFunction((count) => document.querySelectorAll("#board .square").length === count, count, { timeout: 5000 })
    .then(() => true, () => false);

// Opens a second WebSocket from `page` to `path`, sends `payload` after the welcome and
// returns how the server closed it.
const misbehave = (page, path, payload) =>
  page.evaluate(
    ([path, payload]) =>
      new Promise((resolve) => {
        const socket = new WebSocket(`ws://${location.host}${path}`);
        socket.onmessage = (event) => {
          if (JSON.parse(event.data).type !== "welcome") return;
          socket.send(payload === null ? new Uint8Array([1, 2, 3]) : payload);
        };
        socket.onclose = (event) => resolve({ code: event.code, reason: event.reason });
        setTimeout(() => resolve({ code: "timeout", reason: "" }), 5000);
      }),
    [path, payload],
  );

async function main() {
  await checkAssets();
  mkdirSync(screenshots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

async function run(browser) {
  const viewport = { width: 1000, height: 760 };
  // Two windows, as two people would have: A uses a mouse, B a touch screen.
  const contextA = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const contextB = await browser.newContext({ viewport, deviceScaleFactor: 1, hasTouch: true });
  const pageA = await contextA.newPage();
  const pageB = await contextB.newPage();
  const errors = [];
  for (const [name, page] of [["A", pageA], ["B", pageB]]) {
    page.on("pageerror", (error) => errors.push(`page ${name}: ${error.message}`));
  }

  await pageA.goto(urlA);
  await pageA.waitForFunction(() => document.body.dataset.me, null, { timeout: 5000 });
  await pageB.goto(urlB);
  await pageB.waitForFunction(() => document.body.dataset.me, null, { timeout: 5000 });
  check(await seesCount(pageA, 2), "page A does not see two squares");
  check(await seesCount(pageB, 2), "page B does not see two squares");
  const [viewA, viewB] = [await view(pageA), await view(pageB)];
  const idA = viewA.me;
  const idB = viewB.me;
  const mineA = viewA.squares.find((square) => square.id === idA);
  const mineB = viewB.squares.find((square) => square.id === idB);
  check(idA !== idB, `both pages got id ${idA}`);
  check(mineA.mine && mineB.mine, "a page's own square is not marked as its own");
  check(mineA.colour !== mineB.colour, `both squares are ${mineA.colour}`);
  for (const [name, other, mine] of [["A", viewA, mineB], ["B", viewB, mineA]]) {
    const seen = other.squares.find((square) => square.id === mine.id);
    check(seen && seen.colour === mine.colour && seen.x === mine.x && seen.y === mine.y && !seen.mine,
      `page ${name} shows the other square as ${JSON.stringify(seen)}, its owner as ${JSON.stringify(mine)}`);
  }
  ok(`welcome and join: A is square ${idA} (${mineA.colour}) at ${mineA.x},${mineA.y}, ` +
     `B is square ${idB} (${mineB.colour}) at ${mineB.x},${mineB.y}, each page shows both`);

  // Page A drags its square with the mouse.
  const board = await boardGeometry(pageA);
  const targetA = { x: 500, y: 300 };
  const centre = (square) => ({
    x: board.left + (square.x + board.square / 2) * board.scale,
    y: board.top + (square.y + board.square / 2) * board.scale,
  });
  const from = centre(mineA);
  const to = centre(targetA);
  await pageA.mouse.move(from.x, from.y);
  await pageA.mouse.down();
  await pageA.mouse.move(to.x, to.y, { steps: 25 });
  await pageA.mouse.up();
  check(await seesAt(pageA, idA, targetA.x, targetA.y),
    `page A's own square is not at ${targetA.x},${targetA.y} after the drag: ${JSON.stringify(await view(pageA))}`);
  check(await seesAt(pageB, idA, targetA.x, targetA.y),
    `page B does not see square ${idA} at ${targetA.x},${targetA.y}: ${JSON.stringify(await view(pageB))}`);
  ok(`mouse drag on page A moved square ${idA} to ${targetA.x},${targetA.y}; page B sees it there`);

  // Page B drags its square with a finger (touch events, which Chromium turns into pointer events).
  const targetB = { x: 120, y: 380 };
  const touch = await contextB.newCDPSession(pageB);
  const start = centre(mineB);
  const end = centre(targetB);
  await touch.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [start] });
  for (let step = 1; step <= 20; step++) {
    const point = { x: start.x + ((end.x - start.x) * step) / 20, y: start.y + ((end.y - start.y) * step) / 20 };
    await touch.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [point] });
  }
  await touch.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  check(await seesAt(pageB, idB, targetB.x, targetB.y),
    `page B's own square is not at ${targetB.x},${targetB.y} after the touch drag: ${JSON.stringify(await view(pageB))}`);
  check(await seesAt(pageA, idB, targetB.x, targetB.y),
    `page A does not see square ${idB} at ${targetB.x},${targetB.y}: ${JSON.stringify(await view(pageA))}`);
  ok(`touch drag on page B moved square ${idB} to ${targetB.x},${targetB.y}; page A sees it there`);

  // Screenshots: each shows both squares' colours where they now are, the board where they were.
  for (const [name, page] of [["A", pageA], ["B", pageB]]) {
    const path = `${screenshots}/squares-${name}.png`;
    const png = await page.screenshot({ path });
    const image = decodePng(png);
    const geometry = await boardGeometry(page);
    check(image.width === viewport.width && image.height === viewport.height,
      `${path} is ${image.width}x${image.height}, expected ${viewport.width}x${viewport.height}`);
    const expected = [
      [`square ${idA}`, targetA, hexToRgb(mineA.colour)],
      [`square ${idB}`, targetB, hexToRgb(mineB.colour)],
      [`square ${idA}'s start`, mineA, BACKGROUND],
      [`square ${idB}'s start`, mineB, BACKGROUND],
    ];
    for (const [what, at, colour] of expected) {
      const found = share(image, geometry, at.x, at.y, colour);
      check(found >= 0.95, `${path}: ${what} at ${at.x},${at.y}: only ${(found * 100).toFixed(0)}% of the ` +
        `pixels are rgb(${colour}); the centre is rgb(${image.rgb(...centreOf(geometry, at.x, at.y))})`);
    }
    ok(`screenshot ${path}: ${mineA.colour} at ${targetA.x},${targetA.y}, ${mineB.colour} at ` +
       `${targetB.x},${targetB.y}, board background where they started`);
  }

  // Bad messages close the sender with the documented code; the pages see it come and go.
  const cases = [
    ["not JSON", "/ws", "{\"type\":", 1007, /^invalid JSON/],
    ["not an object", "/ws", "[\"move\",1,2]", 1008, /object/],
    ["an unknown type", "/ws", "{\"type\":\"teleport\",\"x\":1,\"y\":2}", 1008, /unknown type/],
    ["an extra field", "/ws", "{\"type\":\"move\",\"x\":1,\"y\":2,\"z\":3}", 1008, /unexpected field/],
    ["a position off the board", "/ws", "{\"type\":\"move\",\"x\":-1,\"y\":0}", 1008, /"x" must be an integer/],
    ["a fractional position", "/ws", "{\"type\":\"move\",\"x\":1,\"y\":2.5}", 1008, /"y" must be an integer/],
    ["a binary message", "/ws", null, 1003, /binary/],
  ];
  for (const [what, path, payload, code, reason] of cases) {
    const closed = await misbehave(pageB, path, payload);
    check(closed.code === code && reason.test(closed.reason),
      `${what}: closed with ${closed.code} ${JSON.stringify(closed.reason)}, expected ${code} ${reason}`);
    ok(`${what} closes with ${code} (${JSON.stringify(closed.reason)})`);
  }
  const elsewhere = await misbehave(pageB, "/elsewhere", "{}");
  check(elsewhere.code === 1006, `an upgrade at /elsewhere: closed with ${elsewhere.code}, expected 1006 (refused)`);
  ok("an upgrade at /elsewhere is refused (the page's socket fails with 1006)");
  check(await seesCount(pageA, 2) && await seesCount(pageB, 2), "the misbehaving sockets did not leave");

  // A leaves: B sees its square go.
  await contextA.close();
  check(await seesCount(pageB, 1), `page B still shows square ${idA} after page A closed`);
  const left = await view(pageB);
  check(left.squares.length === 1 && left.squares[0].id === idB, `page B shows ${JSON.stringify(left)}`);
  ok(`page A closed; page B saw square ${idA} leave`);

  check(errors.length === 0, `JavaScript errors: ${errors.join("; ")}`);
  ok("no JavaScript errors on either page");

  if (serverPid) {
    process.kill(Number(serverPid), "SIGINT");
    const code = await pageB
      .waitForFunction(() => document.body.dataset.closed, null, { timeout: 5000 })
      .then((handle) => handle.jsonValue(), () => "none");
    check(code === "1001", `after Ctrl-C, page B was closed with ${code}, expected 1001`);
    ok("Ctrl-C (SIGINT) closed page B with 1001");
  }
}

try {
  await main();
} catch (error) {
  const message = error instanceof CheckFailed ? error.message : error.stack;
  console.log(`squares-check: FAILED: ${message}`);
  process.exit(1);
}
