// The squares page: one WebSocket to /ws (JSON messages, see examples/squares.rs), a square
// per client on the board, and pointer events (mouse, pen, touch) to drag our own.
"use strict";

(() => {
  const board = document.getElementById("board");
  const status = document.getElementById("status");
  const squares = new Map(); // id -> { element, colour, x, y }
  let geometry = null; // { width, height, square }, from the welcome
  let me = null; // our square, once welcomed
  let closed = false;

  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws");

  function place(square) {
    square.element.style.left = (square.x / geometry.width) * 100 + "%";
    square.element.style.top = (square.y / geometry.height) * 100 + "%";
    square.element.dataset.x = square.x;
    square.element.dataset.y = square.y;
  }

  function add({ id, colour, x, y }) {
    remove(id);
    const element = document.createElement("div");
    element.className = "square";
    element.dataset.id = id;
    element.dataset.colour = colour;
    element.style.background = colour;
    element.style.width = (geometry.square / geometry.width) * 100 + "%";
    element.style.height = (geometry.square / geometry.height) * 100 + "%";
    const square = { id, element, colour, x, y };
    squares.set(id, square);
    place(square);
    board.appendChild(element);
    return square;
  }

  function remove(id) {
    const square = squares.get(id);
    if (square) {
      square.element.remove();
      squares.delete(id);
    }
  }

  function showStatus() {
    if (closed) return;
    const others = squares.size - 1;
    status.textContent = `you are square ${me.id}; ${others} other square${others === 1 ? "" : "s"}`;
    status.style.color = me.colour;
  }

  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    switch (message.type) {
      case "welcome":
        geometry = message.board;
        board.style.aspectRatio = `${geometry.width} / ${geometry.height}`;
        Object.assign(board.dataset, geometry);
        for (const square of message.squares) add(square);
        me = squares.get(message.id);
        me.element.classList.add("mine");
        draggable(me);
        document.body.dataset.me = me.id;
        break;
      case "join":
        add(message);
        break;
      case "moves":
        for (const { id, x, y } of message.squares) {
          const square = squares.get(id);
          if (square && square !== me) {
            square.x = x;
            square.y = y;
            place(square);
          }
        }
        break;
      case "leave":
        remove(message.id);
        break;
    }
    showStatus();
  };

  socket.onclose = (event) => {
    closed = true;
    const reason = event.reason ? `: ${event.reason}` : "";
    status.textContent = `disconnected (code ${event.code}${reason}); reload to play again`;
    status.style.color = "";
    document.body.dataset.closed = event.code;
  };

  // Dragging: positions go out at most once per frame while the pointer moves, and the last
  // one when it is released.
  function draggable(square) {
    let drag = null; // { pointerId, dx, dy }: the pointer's offset inside the square
    let sent = { x: square.x, y: square.y };
    let frame = null;

    const toBoard = (event) => {
      const rect = board.getBoundingClientRect();
      const scale = geometry.width / board.clientWidth;
      return {
        x: (event.clientX - rect.left - board.clientLeft) * scale,
        y: (event.clientY - rect.top - board.clientTop) * scale,
      };
    };
    const clamp = (value, max) => Math.min(Math.max(Math.round(value), 0), max);

    const flush = () => {
      if (frame !== null) cancelAnimationFrame(frame);
      frame = null;
      if (socket.readyState !== WebSocket.OPEN) return;
      if (sent.x === square.x && sent.y === square.y) return;
      sent = { x: square.x, y: square.y };
      socket.send(JSON.stringify({ type: "move", x: square.x, y: square.y }));
    };

    square.element.addEventListener("pointerdown", (event) => {
      if (drag || !event.isPrimary) return;
      event.preventDefault();
      square.element.setPointerCapture(event.pointerId);
      const at = toBoard(event);
      drag = { pointerId: event.pointerId, dx: at.x - square.x, dy: at.y - square.y };
      square.element.classList.add("dragging");
    });
    square.element.addEventListener("pointermove", (event) => {
      if (!drag || event.pointerId !== drag.pointerId) return;
      const at = toBoard(event);
      square.x = clamp(at.x - drag.dx, geometry.width - geometry.square);
      square.y = clamp(at.y - drag.dy, geometry.height - geometry.square);
      place(square);
      if (frame === null) frame = requestAnimationFrame(flush);
    });
    const release = (event) => {
      if (!drag || event.pointerId !== drag.pointerId) return;
      drag = null;
      square.element.classList.remove("dragging");
      flush();
    };
    square.element.addEventListener("pointerup", release);
    square.element.addEventListener("pointercancel", release);
    square.element.addEventListener("lostpointercapture", release);
  }
})();
