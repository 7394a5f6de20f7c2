// The WebSocket help, as the server itself tells it (`{"type":"command","data":"help"}`),
// fetched when the section is first opened. Uses `$` and `commandOnPage` from app.js, which
// loads first.
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

  const FAILED = "The server did not answer; try again later.";
  const WAIT_MS = 10000;

  // Asked on the page's order book socket rather than a connection of its own.
  function load() {
    const failed = () => {
      if (body.dataset.helpLoaded !== "true") $("ws-help-body").textContent = FAILED;
    };
    if (!commandOnPage("help", "help", (message) => render(message.data))) failed();
    else setTimeout(failed, WAIT_MS);
  }

  $("ws-help").addEventListener("toggle", () => {
    if ($("ws-help").open && body.dataset.helpLoaded !== "true") load();
  });
})();
