// The WebSocket help, as the server itself tells it (`{"type":"command","data":"help"}`),
// fetched when the section is first opened. Uses `$` and `wsUrl` from app.js, which loads first.
"use strict";

(() => {
  const SECTIONS = [
    ["client_messages", "What a client sends"],
    ["server_messages", "What the server sends"],
    ["commands", "Commands"],
  ];

  function render(help) {
    const parts = SECTIONS.flatMap(([key, title]) => {
      const heading = document.createElement("h3");
      heading.textContent = title;
      const list = document.createElement("dl");
      for (const [name, text] of Object.entries(help[key] || {})) {
        const term = document.createElement("dt");
        term.textContent = name;
        const detail = document.createElement("dd");
        detail.textContent = text;
        list.append(term, detail);
      }
      return [heading, list];
    });
    $("ws-help-body").replaceChildren(...parts);
    body.dataset.helpLoaded = "true";
  }

  function load() {
    // Its own short-lived connection, subscribed to the system stream (whose snapshots it
    // ignores) rather than to any market's data.
    const socket = new WebSocket(wsUrl({ type: "system" }));
    socket.onopen = () => socket.send(JSON.stringify({ type: "command", data: "help" }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "help") return;
      render(message.data);
      socket.close(1000, "done");
    };
    socket.onerror = () => {
      $("ws-help-body").textContent = "The server did not answer; try again later.";
    };
  }

  $("ws-help").addEventListener("toggle", () => {
    if ($("ws-help").open && body.dataset.helpLoaded !== "true") load();
  });
})();
