// Checks two chat processes, or two squares processes, sharing one Redis (REDIS_URL), with one
// headless Chromium page on each (run by scripts/scaleout-check.sh, which starts Redis and the
// servers).
//
// chat: the pages see each other's messages and one user list; a name taken on one process is
// refused on the other; "echo to me" stays on its process; Redis stopped: each process still
// serves its own page; Redis started again: messages cross again and the list is one again;
// the first process killed with SIGKILL: its user leaves the other page's list within 20 s.
// squares: each page sees both squares; a square dragged on one process moves on the other's
// page; a page opened later sees the squares where they are; a page that leaves is gone from
// the other.
//
// usage: node scaleout-check.mjs chat PORT_A PORT_B PID_A REDIS_PORT REDIS_LOG
//        node scaleout-check.mjs squares PORT_A PORT_B
//        (needs playwright-core; Chromium at $CHROMIUM or /usr/bin/chromium)
// Prints one "scaleout-check: ok: ..." line per check; exits 1 at the first failure.
import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { openSync } from "node:fs";

const [mode, portA, portB, pidA, redisPort, redisLog] = process.argv.slice(2);
const WAIT = 5000; // ms for anything that crosses Redis
const DEPARTURE = 20000; // ms within which a killed process's users leave the other lists

class CheckFailed extends Error {}
const ok = (what) => console.log(`scaleout-check: ok: ${what}`);

/** Waits until `predicate(arg)` holds in `page`; fails with `what` and the page's text after `timeout` ms. */
async function waitFor(page, what, predicate, arg, timeout = WAIT) {
  try {
    await page.waitForFunction(predicate, arg, { timeout });
  } catch {
    const text = await page.evaluate(() => document.body.innerText.slice(0, 600));
    throw new CheckFailed(`timed out waiting for: ${what}; the page shows: ${JSON.stringify(text)}`);
  }
}

async function open(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`scaleout-check: ${url} threw: ${error}`));
  await page.goto(url);
  return page;
}

// --- chat -------------------------------------------------------------------------------------

const usersAre = (names) => [...document.querySelectorAll("#users li")].map((li) => li.textContent).join(",") === names;
const shows = (text) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes(text));
const errorShows = (text) => document.getElementById("error").textContent.includes(text);

async function join(page, name) {
  await waitFor(page, "the page to connect", () => document.getElementById("status").classList.contains("open"));
  await page.fill("#name", name);
  await page.click("#join button");
  await waitFor(page, `${name} to be welcomed`, (name) =>
    document.getElementById("status").textContent.includes(`as ${name}`), name);
}

async function say(page, text, to = "all") {
  await page.check(`input[name="to"][value="${to}"]`);
  await page.fill("#text", text);
  await page.click("#send button");
}

/** Both pages show `text`, said on `from`. */
async function crosses(pages, from, text, what) {
  await say(from, text);
  for (const page of pages) await waitFor(page, `"${text}" on both pages`, shows, text);
  ok(what);
}

const redis = (...args) => execFileSync("redis-cli", ["-p", redisPort, ...args], { encoding: "utf8" }).trim();

async function chat(browser) {
  const [a, b] = [await open(browser, `http://127.0.0.1:${portA}/`), await open(browser, `http://127.0.0.1:${portB}/`)];
  await join(a, "Ada");
  await join(b, "Grace");
  for (const page of [a, b]) await waitFor(page, "the user list Ada,Grace", usersAre, "Ada,Grace");
  ok("Ada on process A and Grace on process B: both pages list Ada,Grace");

  await crosses([a, b], a, "hello from A", "a message to everyone on process A reaches the page on process B");
  await crosses([a, b], b, "hello from B", "a message to everyone on process B reaches the page on process A");

  const third = await open(browser, `http://127.0.0.1:${portB}/`);
  await waitFor(third, "the user list on a new page", usersAre, "Ada,Grace");
  await waitFor(third, "the page to connect", () => document.getElementById("status").classList.contains("open"));
  await third.fill("#name", "ada");
  await third.click("#join button");
  await waitFor(third, "the name ada refused on process B", errorShows, "the name ada is taken");
  await third.close();
  ok("a new page on process B gets the whole list, and the name ada (Ada's, on process A) is refused there");

  await say(a, "only for Ada", "me");
  await crosses([a, b], a, "after the echo", "an echo to me stays on process A; the next message crosses");
  const leaked = await b.evaluate(shows, "only for Ada");
  if (leaked) throw new CheckFailed("the page on process B shows Ada's echo to herself");
  ok("the page on process B never shows Ada's echo to herself");

  // Redis stopped: each process serves its own page alone.
  redis("shutdown", "nosave");
  await say(a, "while Redis is away");
  await waitFor(a, "Ada's own message while Redis is away", shows, "while Redis is away");
  await waitFor(a, "process A's list: Ada alone", usersAre, "Ada");
  ok("Redis stopped: process A still serves its page (its message comes back; its list is Ada alone)");
  if (await b.evaluate(shows, "while Redis is away")) throw new CheckFailed("a message crossed without Redis");

  // Redis started again on the same port: the processes connect again (backoff up to 8 s).
  const log = openSync(redisLog, "a");
  const server = spawn("redis-server", ["--port", redisPort, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { detached: true, stdio: ["ignore", log, log] });
  server.unref();
  const started = Date.now();
  for (const page of [a, b]) await waitFor(page, "the user list Ada,Grace again", usersAre, "Ada,Grace", 15000);
  ok(`Redis started again: both pages list Ada,Grace again after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await crosses([a, b], b, "hello again from B", "after the restart, a message on process B reaches process A again");
  await crosses([a, b], a, "hello again from A", "after the restart, a message on process A reaches process B again");

  // Process A killed: no goodbye; Ada's presence key expires and B's list drops her.
  process.kill(Number(pidA), "SIGKILL");
  const killed = Date.now();
  await waitFor(b, "Ada to leave process B's list", usersAre, "Grace", DEPARTURE);
  ok(`process A killed with SIGKILL: Ada left process B's list after ${((Date.now() - killed) / 1000).toFixed(1)} s (bound 20 s)`);
  await say(b, "still here");
  await waitFor(b, "Grace's message after A died", shows, "still here");
  ok("process B goes on serving its page");
}

// --- squares ----------------------------------------------------------------------------------

const board = (page) =>
  page.evaluate(() => ({
    me: Number(document.body.dataset.me),
    squares: [...document.querySelectorAll("#board .square")].map((element) => ({
      id: Number(element.dataset.id), x: Number(element.dataset.x), y: Number(element.dataset.y),
    })),
  }));

const squareAt = ([id, x, y]) => {
  const element = document.querySelector(`#board .square[data-id="${id}"]`);
  return element !== null && Number(element.dataset.x) === x && Number(element.dataset.y) === y;
};
const squareCount = (count) => document.querySelectorAll("#board .square").length === count;

async function squares(browser) {
  const a = await open(browser, `http://127.0.0.1:${portA}/`);
  await waitFor(a, "page A's welcome", () => document.body.dataset.me);
  const b = await open(browser, `http://127.0.0.1:${portB}/`);
  await waitFor(b, "page B's welcome", () => document.body.dataset.me);
  for (const page of [a, b]) await waitFor(page, "two squares", squareCount, 2);
  const [viewA, viewB] = [await board(a), await board(b)];
  if (viewA.me === viewB.me) throw new CheckFailed(`both processes gave id ${viewA.me}`);
  ok(`square ${viewA.me} on process A and square ${viewB.me} on process B: both pages show both`);

  const geometry = await a.evaluate(() => {
    const element = document.getElementById("board");
    const rect = element.getBoundingClientRect();
    return { left: rect.left + element.clientLeft, top: rect.top + element.clientTop,
             scale: element.clientWidth / Number(element.dataset.width), square: Number(element.dataset.square) };
  });
  const centre = ({ x, y }) => ({ x: geometry.left + (x + geometry.square / 2) * geometry.scale,
                                  y: geometry.top + (y + geometry.square / 2) * geometry.scale });
  const mine = viewA.squares.find((square) => square.id === viewA.me);
  const target = { x: 520, y: 310 };
  const [from, to] = [centre(mine), centre(target)];
  await a.mouse.move(from.x, from.y);
  await a.mouse.down();
  await a.mouse.move(to.x, to.y, { steps: 25 });
  await a.mouse.up();
  await waitFor(a, "page A's square at the target", squareAt, [viewA.me, target.x, target.y]);
  await waitFor(b, "page B to see square A at the target", squareAt, [viewA.me, target.x, target.y]);
  ok(`square ${viewA.me} dragged on process A to ${target.x},${target.y}: the page on process B shows it there`);

  const late = await open(browser, `http://127.0.0.1:${portB}/`);
  await waitFor(late, "a late page's welcome", () => document.body.dataset.me);
  await waitFor(late, "the late page to see square A where it is", squareAt, [viewA.me, target.x, target.y]);
  await waitFor(late, "three squares on the late page", squareCount, 3);
  ok("a page opened later on process B is welcomed with process A's square where it was dragged");

  await a.close();
  for (const page of [b, late]) await waitFor(page, "square A gone", squareCount, 2);
  ok("the page on process A closed: its square left the pages on process B");
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  try {
    if (mode === "chat") await chat(browser);
    else if (mode === "squares") await squares(browser);
    else throw new CheckFailed(`unknown mode ${mode}`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(`scaleout-check: FAILED: ${error instanceof CheckFailed ? error.message : error.stack}`);
  process.exit(1);
});
