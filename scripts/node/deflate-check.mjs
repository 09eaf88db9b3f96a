// permessage-deflate (RFC 7692) against Node's `ws`: examples/echo_server, run with
// PERMESSAGE_DEFLATE=1 and MAX_MESSAGE_SIZE >= 1 MiB, echoes text and binary messages of every
// size class up to 1 MiB, compressible and random, that `ws` sends compressed (threshold 0:
// every message, the empty one too). Two connections: `ws`'s default offer (context takeover,
// 15-bit windows), and one asking for no context takeover either way and small windows (9 bits
// for the server, 10 for the client). Each checks the extension negotiated (`ws.extensions` and
// the parameters answered), each echo equal, and a clean close with 1000.
//
// usage: node deflate-check.mjs PORT   (needs `ws` next to it, in node_modules)
// Prints one "ok    ..." or "FAIL  ..." line per check; exits 1 at the first failure. Every wait
// is bounded: 10 s per exchange, 50 s in all.
import WebSocket from "ws";

const port = Number(process.argv[2]);
const KIB = 1024;
const MIB = 1024 * KIB;
// Around the 7-bit, 16-bit and 64-bit payload lengths (RFC 6455 §5.2) and the 1 KiB threshold.
const SIZES = [0, 1, 125, 126, 1023, 1024, 1025, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, MIB];
const EXCHANGE_TIMEOUT_MS = 10_000;

class CheckFailed extends Error {}

function check(condition, what) {
  if (!condition) throw new CheckFailed(what);
  console.log(`ok    ${what}`);
}

setTimeout(() => {
  console.log("FAIL  deflate-check finished within 50 s");
  process.exit(1);
}, 50_000).unref();

// --- payloads: deterministic (xorshift32), so a failure can be reproduced -------------------

function randomBytes(size, seed) {
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

/** Text of exactly `size` UTF-8 bytes: repeated (compressible) or random, with multi-byte code points. */
function text(size, random, seed) {
  const phrase = "permessage-deflate compresses repeated text: κόσμε, €, 😀. ";
  const alphabet = [..."abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?-_ABCDEFGHIJKLMNOPQRSTUVWXYZ", ..."éßκόσμε€😀"];
  const noise = randomBytes(size, seed);
  let result = "";
  let length = 0;
  for (let index = 0; length < size; index++) {
    let char = random ? alphabet[noise[index] % alphabet.length] : [...phrase][index % [...phrase].length];
    if (length + Buffer.byteLength(char) > size) char = ".";
    result += char;
    length += Buffer.byteLength(char);
  }
  return result;
}

function samples() {
  const result = [];
  for (const [index, size] of SIZES.entries()) {
    result.push([`compressible text of ${size} bytes`, text(size, false, 0)]);
    result.push([`random text of ${size} bytes`, text(size, true, 1000 + index)]);
    const cycle = Buffer.alloc(size);
    for (let at = 0; at < size; at++) cycle[at] = at & 0xff;
    result.push([`compressible binary of ${size} bytes`, cycle]);
    result.push([`random binary of ${size} bytes`, randomBytes(size, 2000 + index)]);
  }
  return result;
}

// --- one connection --------------------------------------------------------------------------

/** Resolves with the next event `name` of `ws`, or rejects after the exchange timeout or on close. */
function next(ws, name, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CheckFailed(`${what}: no ${name} within 10 s`)), EXCHANGE_TIMEOUT_MS);
    const onEvent = (...args) => { cleanup(); resolve(args); };
    const onClose = (code, reason) => { cleanup(); reject(new CheckFailed(`${what}: closed (${code} ${reason})`)); };
    const onError = (error) => { cleanup(); reject(new CheckFailed(`${what}: ${error.message}`)); };
    const cleanup = () => {
      clearTimeout(timer);
      ws.off(name, onEvent);
      if (name !== "close") ws.off("close", onClose);
      ws.off("error", onError);
    };
    ws.on(name, onEvent);
    if (name !== "close") ws.on("close", onClose);
    ws.on("error", onError);
  });
}

async function connection(label, perMessageDeflate, expected) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/node`, { perMessageDeflate, maxPayload: 4 * MIB });
  let answer = null;
  ws.on("upgrade", (response) => { answer = response.headers["sec-websocket-extensions"] ?? ""; });
  await next(ws, "open", `${label}: connect`);
  // ws.extensions names the extensions in use; the 101's header field has their parameters.
  check(ws.extensions === "permessage-deflate" && expected.every((part) => answer.includes(part)),
    `ws (${label}): ws.extensions = ${JSON.stringify(ws.extensions)}, the server answered ${JSON.stringify(answer)}`);
  for (const [what, message] of samples()) {
    const binary = typeof message !== "string";
    ws.send(message, { binary, compress: true });
    const [data, isBinary] = await next(ws, "message", `${label}, ${what}`);
    const same = isBinary === binary && (binary ? data.equals(message) : data.toString("utf8") === message);
    check(same, `ws (${label}) -> echo server -> ws: ${what} echoed equal`);
  }
  ws.close(1000, "done");
  const [code] = await next(ws, "close", `${label}: close`);
  check(code === 1000, `ws (${label}): closed with ${code}`);
}

try {
  await connection("threshold 0, default offer", { threshold: 0 }, ["permessage-deflate"]);
  await connection("threshold 0, no context takeover, windows 9 and 10", {
    threshold: 0,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 10,
    // RFC 7692 §7.1.1.2: the server may leave client_no_context_takeover out of its answer
    // (the client resets its context anyway); the other three it must answer.
  }, ["permessage-deflate", "server_no_context_takeover", "server_max_window_bits=9", "client_max_window_bits=10"]);
} catch (error) {
  console.log(`FAIL  ${error instanceof CheckFailed ? error.message : error.stack}`);
  process.exit(1);
}
process.exit(0);
