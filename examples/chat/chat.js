// The chat page's script: one WebSocket to /ws offering the subprotocol "chat", JSON messages
// both ways (examples/chat.rs describes them). Everything the server sends is shown with
// textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;
let myName = null;

function setStatus(state, text) {
  $("status").className = "status " + state;
  $("status").textContent = text;
}

function setForms() {
  const open = socket !== null && socket.readyState === WebSocket.OPEN;
  const joined = open && myName !== null;
  $("name").disabled = !open || joined;
  $("join").querySelector("button").disabled = !open || joined;
  $("text").disabled = !joined;
  $("audience").disabled = !joined;
  $("send").querySelector("button").disabled = !joined;
  $("disconnect").disabled = !open;
  $("connect").hidden = open || (socket !== null && socket.readyState === WebSocket.CONNECTING);
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function addLine(className, from, text) {
  const item = document.createElement("li");
  item.className = className;
  if (from !== null) {
    const name = document.createElement("span");
    name.className = "from";
    name.textContent = from;
    item.append(name);
  }
  item.append(document.createTextNode(text));
  $("messages").append(item);
  $("messages").scrollTop = $("messages").scrollHeight;
}

function showUsers(users) {
  $("users").replaceChildren(...users.map((user) => {
    const item = document.createElement("li");
    item.textContent = user;
    if (user === myName) item.className = "me";
    return item;
  }));
  $("count").textContent = users.length ? `(${users.length})` : "";
}

function connected() {
  const name = myName === null ? "" : ` as ${myName}`;
  setStatus("open", `connected${name} (subprotocol ${socket.protocol || "none"})`);
}

function receive(data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return showError("the server sent something that is not JSON");
  }
  switch (message.type) {
    case "users":
      showUsers(message.users);
      break;
    case "welcome":
      myName = message.name;
      showError("");
      addLine("notice", null, `welcome, ${message.name}`);
      connected();
      setForms();
      $("text").focus();
      break;
    case "joined":
      addLine("notice", null, `${message.name} joined`);
      break;
    case "left":
      addLine("notice", null, `${message.name} left`);
      break;
    case "message": {
      const kind = message.to === "me" ? "echo" : message.from === myName ? "mine" : "other";
      const from = message.to === "me" ? `${message.from} (echo to me):` : `${message.from}:`;
      addLine(kind, from, message.text);
      break;
    }
    case "error":
      showError(message.text);
      break;
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/ws`, ["chat"]);
  window.chatSocket = socket; // for scripts/browser/chat-check.mjs
  myName = null;
  setStatus("connecting", "connecting…");
  setForms();
  socket.onopen = () => {
    connected();
    setForms();
    $("name").focus();
  };
  socket.onmessage = (event) => receive(event.data);
  socket.onclose = (event) => {
    const reason = event.reason ? `: ${event.reason}` : "";
    setStatus("closed", `disconnected (${event.code}${reason})`);
    myName = null;
    showUsers([]);
    setForms();
  };
}

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  socket.send(JSON.stringify({ type: "join", name: $("name").value }));
});

$("send").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  const to = document.querySelector('input[name="to"]:checked').value;
  socket.send(JSON.stringify({ type: "message", text, to }));
  $("text").value = "";
  showError("");
});

$("disconnect").addEventListener("click", () => socket.close(1000, "bye"));
$("connect").addEventListener("click", connect);

connect();
