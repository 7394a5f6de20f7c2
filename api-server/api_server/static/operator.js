// The operator section: the admin API's markets with their state, adding one (exchange, kind,
// symbol, start date) and removing one (after a confirmation), every error the API answers
// shown as it said it. The admin token is kept in this tab's session storage and sent only as
// an Authorization header, never in an address. Uses `$` from app.js, which loads first.
"use strict";

(() => {
  const TOKEN_KEY = "linkora.adminToken";
  const REFRESH_MS = 3000;
  // Offered until /admin/exchanges answers with the server's own list.
  let exchanges = [
    { exchange: "binance", kinds: ["spot", "usdm"] }, { exchange: "bybit", kinds: ["spot", "linear"] },
    { exchange: "okx", kinds: ["spot", "swap"] }, { exchange: "whitebit", kinds: ["spot"] },
  ];
  let timer = null;
  // Whether the error shown is the list's own (a later list clears it) or an action's (which
  // stays until the next action).
  let listFailed = false;

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function showError(text, fromList = false) {
    listFailed = fromList && Boolean(text);
    const box = $("admin-error");
    box.textContent = text;
    box.hidden = !text;
    if (text) body.dataset.adminError = text;
    else delete body.dataset.adminError;
  }

  // One admin API call; throws an Error with the API's own message on a refusal.
  async function admin(method, path, payload) {
    const secret = token();
    if (!secret) throw new Error("Paste the admin token first");
    const headers = { Authorization: `Bearer ${secret}` };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, cache: "no-store", body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      const refusal = new Error(`${response.status} ${answer?.error || response.statusText}`);
      refusal.status = response.status;
      throw refusal;
    }
    return answer;
  }

  const marketPath = (m) => `/admin/markets/${[m.exchange, m.kind, m.symbol].map(encodeURIComponent).join("/")}`;

  function stateOf(market) {
    if (market.removed_at) return "removed";
    if (!market.collected) return "exchange disabled";
    return market.state ? market.state.phase : "pending";
  }

  function backfillOf(market) {
    const s = market.state;
    if (!s || !s.backfill_total) return "";
    return `${s.backfill_percent} % (${s.backfill_done.toLocaleString("en-US")} / ${s.backfill_total.toLocaleString("en-US")})`;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function row(market) {
    const tr = document.createElement("tr");
    const phase = stateOf(market);
    tr.dataset.market = market.market;
    tr.dataset.state = phase;
    if (market.removed_at) tr.className = "removed";
    const actions = document.createElement("td");
    if (market.collected) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.onclick = () => removeMarket(market);
      actions.append(remove);
    }
    tr.append(
      cell(market.market), cell(phase, `phase-${phase}`), cell(backfillOf(market)),
      cell(market.start_date ? market.start_date.slice(0, 10) : "default"),
      cell(`${market.added_at.slice(0, 16).replace("T", " ")} by ${market.added_by}`), actions,
    );
    return tr;
  }

  async function refresh() {
    clearTimeout(timer);
    if (!token() || !$("operator").open) return;
    let again = true;
    try {
      const { markets } = await admin("GET", "/admin/markets");
      $("admin-rows").replaceChildren(...markets.map(row));
      body.dataset.adminRows = String(markets.length);
      body.dataset.adminLoads = String(Number(body.dataset.adminLoads || 0) + 1);
      if (listFailed) showError("");
    } catch (error) {
      showError(error.message, true);
      // A refused token is not tried again by itself (each try counts as a failed attempt).
      again = error.status !== 401 && error.status !== 403;
    } finally {
      if (again && token() && $("operator").open) timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  async function removeMarket(market) {
    if (!confirm(`Remove ${market.market}? It stops being collected; its stored data stays.`)) return;
    try {
      await admin("DELETE", marketPath(market));
      showError("");
    } catch (error) {
      showError(error.message);
    }
    await refresh();
  }

  async function addMarket() {
    const payload = {
      exchange: $("add-exchange").value,
      kind: $("add-kind").value,
      symbol: $("add-symbol").value.trim(),
    };
    if ($("add-start").value) payload.start_date = $("add-start").value;
    try {
      await admin("POST", "/admin/markets", payload);
      showError("");
      $("add-symbol").value = "";
    } catch (error) {
      showError(error.message);
    }
    await refresh();
  }

  function fillKinds() {
    const chosen = exchanges.find((e) => e.exchange === $("add-exchange").value) || exchanges[0];
    $("add-kind").replaceChildren(...chosen.kinds.map((kind) => new Option(kind, kind)));
  }

  function fillExchanges() {
    const current = $("add-exchange").value;
    $("add-exchange").replaceChildren(...exchanges.map((e) => new Option(e.exchange, e.exchange)));
    if (exchanges.some((e) => e.exchange === current)) $("add-exchange").value = current;
    fillKinds();
  }

  // The server's exchanges and kinds, when the token lets us ask.
  async function loadExchanges() {
    try {
      const answer = await admin("GET", "/admin/exchanges");
      const listed = (answer.exchanges || []).map((e) => ({
        exchange: e.exchange, kinds: (e.kinds || []).map((k) => (typeof k === "string" ? k : k.kind)),
      })).filter((e) => e.kinds.length);
      if (listed.length) {
        exchanges = listed;
        fillExchanges();
      }
    } catch {
      // The built-in list stays; the markets call shows what is wrong with the token.
    }
  }

  function showTokenState() {
    $("token-state").textContent = token() ? "token set for this tab" : "no token";
    body.dataset.adminToken = token() ? "set" : "none";
  }

  $("token-use").onclick = () => {
    const secret = $("admin-token").value.trim();
    $("admin-token").value = "";
    if (secret) sessionStorage.setItem(TOKEN_KEY, secret);
    showTokenState();
    loadExchanges();
    refresh();
  };
  $("token-forget").onclick = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(timer);
    $("admin-rows").replaceChildren();
    body.dataset.adminRows = "0";
    showError("");
    showTokenState();
  };
  $("add-exchange").onchange = fillKinds;
  $("add-button").onclick = () => addMarket();
  $("operator").addEventListener("toggle", () => {
    if ($("operator").open) refresh();
    else clearTimeout(timer);
  });
  fillExchanges();
  showTokenState();
  if (token()) loadExchanges();
})();
