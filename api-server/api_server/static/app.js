// The live chart page: history over REST, live candles and the order book over the WebSocket,
// recent orders polled from the order API, and the DEX's own executed and cancelled orders as
// markers from the UDF marks (when the server maps a token pair to the symbol), and while the
// market backfills a progress bar over the chart (the WebSocket `progress` stream), replaced by
// the chart once the backfill is done. A market is a
// venue (an exchange's spot or futures market) and a symbol in that exchange's spelling; every
// request names the venue with `exchange` and `kind`, except for Binance spot, which the server
// serves without them. Plain modern JS; the chart library is a global (`LightweightCharts`)
// loaded from /static/vendor. system.js (the system panel), operator.js (the operator section)
// and help.js load after this file and use its `$`, `followOnPage` and `commandOnPage`. The
// page holds two WebSockets: the candles' (its query changes with the timeframe) and the order
// book's, which also carries the progress and system streams as subscribe messages and the
// help command.
"use strict";

const TIMEFRAMES = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"];
const MINUTE = 60;
const SECONDS = {
  "1": MINUTE, "3": 3 * MINUTE, "5": 5 * MINUTE, "15": 15 * MINUTE, "30": 30 * MINUTE,
  "45": 45 * MINUTE, "1H": 3600, "2H": 7200, "3H": 10800, "4H": 14400, "1D": 86400,
  "1W": 7 * 86400, "1M": 31 * 86400,
};
const HISTORY_BARS = 1000;
const ORDERS_POLL_MS = 3000;
const MARKS_POLL_MS = 15000;
// The page's timeframes as UDF resolutions (minutes for the intraday ones).
const RESOLUTIONS = { "1H": "60", "2H": "120", "3H": "180", "4H": "240" };
const PRICE_POLL_MS = 5000;
const BOOK_LEVELS = 12;
const ETH = "0x0000000000000000000000000000000000000000";
// The venues the platform knows (linkora_core/markets.py), Binance spot first: the page offers
// those /exchanges reports collected, or, from a server without /exchanges, those with symbols.
const VENUES = [
  ["binance", "spot"], ["binance", "usdm"], ["bybit", "spot"], ["bybit", "linear"],
  ["okx", "spot"], ["okx", "swap"], ["whitebit", "spot"],
].map(([exchange, kind]) => ({ exchange, kind, status: "online" }));
const DEFAULT_VENUE = "binance-spot";
const EXCHANGE_NAMES = { binance: "Binance", bybit: "Bybit", okx: "OKX", whitebit: "WhiteBIT" };
const KIND_NAMES = { usdm: "USDⓈ-M" };

const state = {
  venue: VENUES[0],
  venues: [VENUES[0]], // {exchange, kind, status}, Binance spot first when it is collected
  symbol: null,
  timeframe: "1",
  bars: [], // {time, open, high, low, close, volume}, oldest first
  details: new Map(), // bar time -> the server's decimal strings and trade count, for the legend
  hovered: null, // the bar time under the crosshair, if any
  liveUpdates: 0,
  orderApi: null,
  marksEnabled: false,
  marks: new Map(), // order id -> {time, label, color, lines}
  sockets: { candles: null, orderbook: null },
  backfill: null, // the selected market's latest progress report while it backfills
  generation: 0, // bumped on every market/timeframe switch; stale responses are dropped
};

const $ = (id) => document.getElementById(id);
const body = document.body;

// ---------------------------------------------------------------- venues

const venueKey = (venue) => `${venue.exchange}-${venue.kind}`;

function venueName(venue) {
  const exchange = EXCHANGE_NAMES[venue.exchange] || venue.exchange;
  return `${exchange} ${KIND_NAMES[venue.kind] || venue.kind}`;
}

// The query parameters naming a venue: none for Binance spot, so its requests stay as they were.
function where(venue = state.venue) {
  return venueKey(venue) === DEFAULT_VENUE ? {} : { exchange: venue.exchange, kind: venue.kind };
}

// `path` with the venue's parameters and `params`; the bare path when there are none.
function api(path, params = {}, venue = state.venue) {
  const query = String(new URLSearchParams({ ...where(venue), ...params }));
  return query ? `${path}?${query}` : path;
}

// Whether a message (which names its exchange and kind unless it is Binance spot's) is `venue`'s.
function ofVenue(message, venue) {
  return (message.exchange || "binance") === venue.exchange && (message.kind || "spot") === venue.kind;
}

// ---------------------------------------------------------------- chart

const chart = LightweightCharts.createChart($("chart"), {
  autoSize: true,
  layout: { background: { color: "#161d27" }, textColor: "#d5dbe3" },
  grid: { vertLines: { color: "#1e2733" }, horzLines: { color: "#1e2733" } },
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#263140" },
  rightPriceScale: { borderColor: "#263140" },
  crosshair: { mode: LightweightCharts.CrosshairMode.Normal },
});
const candleSeries = chart.addSeries(LightweightCharts.CandlestickSeries, {
  upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
  wickUpColor: "#26a69a", wickDownColor: "#ef5350",
});
const volumeSeries = chart.addSeries(LightweightCharts.HistogramSeries, {
  priceFormat: { type: "volume" },
  priceScaleId: "volume",
});
const orderMarkers = LightweightCharts.createSeriesMarkers(candleSeries, []);
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });

function volumeBar(bar) {
  return {
    time: bar.time,
    value: bar.volume,
    color: bar.close >= bar.open ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)",
  };
}

function render() {
  candleSeries.setData(state.bars);
  volumeSeries.setData(state.bars.map(volumeBar));
  body.dataset.bars = String(state.bars.length);
  renderLegend();
}

// The market and the hovered (else the newest) bar's values as the server sent them; a venue
// that publishes no trade count has `trades: null`, shown as n/a.
function renderLegend() {
  $("legend-market").textContent = `${state.symbol} · ${venueName(state.venue)}`;
  const time = state.hovered ?? state.bars[state.bars.length - 1]?.time;
  const detail = state.details.get(time);
  if (!detail) {
    $("legend-values").replaceChildren();
    return;
  }
  const trades = detail.trades === null || detail.trades === undefined ? "n/a" : String(detail.trades);
  const values = [
    ["O", detail.open], ["H", detail.high], ["L", detail.low], ["C", detail.close],
    ["V", detail.volume], ["Trades", trades],
  ];
  $("legend-values").replaceChildren(
    ...values.map(([name, value]) => {
      const item = document.createElement("span");
      const label = document.createElement("span");
      label.className = "muted";
      label.textContent = `${name} `;
      item.append(label, value);
      item.dataset.field = name.toLowerCase();
      return item;
    }),
  );
}

function fromRest(row) {
  const time = Math.floor(row.timestamp / 1000);
  state.details.set(time, {
    open: row.open_price, high: row.high_price, low: row.low_price, close: row.close_price,
    volume: row.volume, trades: row.trades,
  });
  return {
    time,
    open: parseFloat(row.open_price),
    high: parseFloat(row.high_price),
    low: parseFloat(row.low_price),
    close: parseFloat(row.close_price),
    volume: parseFloat(row.volume),
  };
}

function fromLive(message) {
  const time = Math.floor(message.timestamp / 1000);
  state.details.set(time, {
    open: message.open, high: message.high, low: message.low, close: message.close,
    volume: message.volume, trades: message.trades,
  });
  return {
    time,
    open: parseFloat(message.open),
    high: parseFloat(message.high),
    low: parseFloat(message.low),
    close: parseFloat(message.close),
    volume: parseFloat(message.volume),
  };
}

// Update the bar with the same timestamp, append a newer one, or patch an older one in place.
function applyLive(bar) {
  const bars = state.bars;
  const last = bars[bars.length - 1];
  if (!last || bar.time > last.time) {
    bars.push(bar);
    candleSeries.update(bar);
    volumeSeries.update(volumeBar(bar));
  } else if (bar.time === last.time) {
    bars[bars.length - 1] = bar;
    candleSeries.update(bar);
    volumeSeries.update(volumeBar(bar));
  } else {
    const index = bars.findIndex((existing) => existing.time === bar.time);
    if (index < 0) return;
    bars[index] = bar;
    render();
  }
  if (state.hovered === null) renderLegend();
  state.liveUpdates += 1;
  body.dataset.liveUpdates = String(state.liveUpdates);
  body.dataset.lastUpdate = String(bar.time);
  body.dataset.bars = String(bars.length);
}

async function loadHistory() {
  const generation = state.generation;
  const span = Math.min(HISTORY_BARS * SECONDS[state.timeframe], 10 * 365 * 86400);
  const start = new Date(Date.now() - span * 1000).toISOString();
  const query = {
    symbol: state.symbol, timeframe: state.timeframe, limit: String(HISTORY_BARS),
    start_date: start,
  };
  const response = await fetch(api("/candles", query));
  if (!response.ok) throw new Error(`/candles answered ${response.status}`);
  const rows = await response.json();
  if (generation !== state.generation) return;
  state.details = new Map();
  const bars = rows.map(fromRest).sort((a, b) => a.time - b.time);
  state.bars = bars.filter((bar, i) => i === 0 || bar.time !== bars[i - 1].time);
  render();
  // The newest bars at a readable width: at most 150, and never one bar across the whole chart.
  const shown = Math.min(Math.max(state.bars.length, 60), 150);
  chart.timeScale().setVisibleLogicalRange({
    from: state.bars.length - shown, to: state.bars.length + 3,
  });
  body.dataset.loadedTimeframe = state.timeframe;
  body.dataset.loadedSymbol = state.symbol;
  body.dataset.loadedVenue = venueKey(state.venue);
}

// ---------------------------------------------------------------- the DEX's orders as marks

function marker(mark) {
  const buy = mark.label === "B";
  const cancelled = mark.lines[0].includes("CANCELLED");
  return {
    id: String(mark.id),
    time: mark.time,
    position: buy ? "belowBar" : "aboveBar",
    shape: cancelled ? "circle" : buy ? "arrowUp" : "arrowDown",
    color: mark.color,
    text: mark.label,
    size: cancelled ? 1 : 1.5,
  };
}

// The UDF marks table (one column per field) as marks, keeping those on a loaded bar.
function fromMarksTable(table) {
  const bars = new Set(state.bars.map((bar) => bar.time));
  const marks = [];
  table.id.forEach((id, i) => {
    if (!bars.has(table.time[i])) return;
    marks.push({
      id, time: table.time[i], label: table.label[i], color: table.color[i].background,
      lines: table.text[i].split("\n"),
    });
  });
  return marks;
}

async function loadMarks() {
  if (!state.marksEnabled || !state.bars.length) return;
  const generation = state.generation;
  const query = {
    symbol: state.symbol,
    resolution: RESOLUTIONS[state.timeframe] || state.timeframe,
    from: String(state.bars[0].time),
    to: String(state.bars[state.bars.length - 1].time),
  };
  const response = await fetch(api("/udf/marks", query));
  if (!response.ok) throw new Error(`/udf/marks answered ${response.status}`);
  const table = await response.json();
  if (generation !== state.generation) return;
  const marks = fromMarksTable(table);
  state.marks = new Map(marks.map((mark) => [String(mark.id), mark]));
  orderMarkers.setMarkers(marks.map(marker));
  body.dataset.marks = String(marks.length);
  body.dataset.marksSymbol = state.symbol;
}

function clearMarks() {
  state.marks = new Map();
  orderMarkers.setMarkers([]);
  body.dataset.marks = "0";
  hideMarkTooltip();
}

function hideMarkTooltip() {
  $("mark-tooltip").hidden = true;
  delete body.dataset.tooltipMark;
}

// A marker under the pointer, else the marks on the hovered bar, shown beside the pointer.
function showMarkTooltip(param) {
  if (!param.point || param.time === undefined || !state.marks.size) return hideMarkTooltip();
  const hovered = state.marks.get(String(param.hoveredObjectId));
  const marks = hovered ? [hovered] : [...state.marks.values()].filter((m) => m.time === param.time);
  if (!marks.length) return hideMarkTooltip();
  const tooltip = $("mark-tooltip");
  tooltip.replaceChildren(
    ...marks.flatMap((mark, i) => [
      ...(i ? [document.createElement("hr")] : []),
      ...mark.lines.map((line) => {
        const p = document.createElement("p");
        p.textContent = line;
        return p;
      }),
    ]),
  );
  tooltip.hidden = false;
  // Below and right of the pointer (so it never hides the marker), inside the panel.
  const panel = $("chart-panel").getBoundingClientRect();
  const left = Math.min(param.point.x + 16, panel.width - tooltip.offsetWidth - 8);
  const below = param.point.y + 20;
  const top = below + tooltip.offsetHeight < panel.height ? below : param.point.y - 20 - tooltip.offsetHeight;
  tooltip.style.left = `${Math.max(8, left)}px`;
  tooltip.style.top = `${Math.max(8, top)}px`;
  body.dataset.tooltipMark = String(marks[0].id);
}

chart.subscribeCrosshairMove(showMarkTooltip);
chart.subscribeCrosshairMove((param) => {
  state.hovered = param.point && param.time !== undefined ? param.time : null;
  renderLegend();
});

// ---------------------------------------------------------------- WebSocket

function wsUrl(params) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws?${new URLSearchParams(params)}`;
}

function setStatus(text, mode) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = mode;
}

// A socket that answers heartbeats, ignores pongs and reconnects with exponential backoff
// until `close()` is called, or until the server says its market is no longer collected (and
// the socket carries no page-wide stream, which the server keeps it open for). `subscriptions`
// are subscribe messages sent each time it opens (so again after a reconnect). `params` may be
// a function of whether this is a reconnect, called at every connect (the candles' socket
// resumes with `since`).
function liveSocket(params, onMessage, subscriptions = []) {
  let socket = null;
  let attempt = 0;
  let closed = false;
  let timer = null;
  const wanted = [...subscriptions];
  let pending = []; // messages sent once, when the socket next opens
  // A subscription naming no symbol is page-wide (the system panel's).
  const pageWide = () => wanted.some((s) => !s.symbol);

  let connects = 0;

  function connect() {
    const query = typeof params === "function" ? params(connects > 0) : params;
    connects += 1;
    socket = new WebSocket(wsUrl(query));
    socket.onopen = () => {
      attempt = 0;
      setStatus("live", "live");
      for (const subscription of wanted) socket.send(JSON.stringify(subscription));
      for (const message of pending) socket.send(JSON.stringify(message));
      pending = [];
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "heartbeat") {
        socket.send(JSON.stringify({ type: "pong" }));
        return;
      }
      if (message.type === "pong" || message.type === "error") return;
      if (message.type === "market_removed") {
        // The server closes a connection left with no subscription.
        if (!pageWide()) closed = true;
        marketRemoved(message);
        return;
      }
      onMessage(message);
    };
    socket.onclose = () => {
      if (closed) return;
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
      attempt += 1;
      setStatus(`reconnecting in ${Math.round(delay / 1000)}s`, "reconnecting");
      timer = setTimeout(connect, delay);
    };
  }

  connect();
  return {
    // One more subscription: sent now if the socket is open, and on every later open.
    subscribe(subscription) {
      wanted.push(subscription);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(subscription));
    },
    // A message sent once: now if the socket is open, else when it opens.
    send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      else pending.push(message);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close(1000, "switching");
    },
  };
}

// Page-wide streams (the system panel's), each {subscription, onMessage}: they ride on the
// order book's socket, subscribed again whenever it is replaced or reconnects.
const pageStreams = [];

function followOnPage(stream, onMessage) {
  const entry = { subscription: { type: "subscribe", stream }, onMessage };
  pageStreams.push(entry);
  state.sockets.orderbook?.subscribe(entry.subscription);
}

// Handlers of the page's read-only commands, by the type of the answer awaited.
const pageAnswers = new Map();

// A read-only command (`{"type":"command"}`) sent on the order book's socket; `onAnswer` gets
// the first message of type `answer`. False when the page holds no socket to send it on.
function commandOnPage(command, answer, onAnswer) {
  if (!state.sockets.orderbook) return false;
  pageAnswers.set(answer, onAnswer);
  state.sockets.orderbook.send({ type: "command", data: command });
  return true;
}

function pageMessage(message) {
  for (const entry of pageStreams) {
    if (message.type === entry.subscription.stream) entry.onMessage(message);
  }
  const onAnswer = pageAnswers.get(message.type);
  if (onAnswer) {
    pageAnswers.delete(message.type);
    onAnswer(message);
  }
}

// When the page never opened a market (it failed to start), the page-wide streams get a
// socket of their own.
function pageSocket() {
  if (state.sockets.orderbook || !pageStreams.length) return;
  const [first, ...rest] = pageStreams;
  state.sockets.orderbook = liveSocket(
    { type: first.subscription.stream }, pageMessage, rest.map((entry) => entry.subscription),
  );
}

// The candles' socket resumes after a reconnect: `since` is the seq (the open time) of the
// last closed candle it got, or just before the newest bar shown, and the server replays the
// closed candles missed meanwhile before the live stream. A replay cut short (`truncated`:
// more missed than the server replays) reloads the history.
function subscribeCandles() {
  state.sockets.candles?.close();
  const { venue, symbol, timeframe, generation } = state;
  let lastClosed = null;
  const params = (reconnecting) => {
    const query = { ...where(venue), symbol, timeframe, type: "candles" };
    const newest = state.bars[state.bars.length - 1];
    const since = lastClosed ?? (newest ? newest.time * 1000 - 1 : null);
    if (reconnecting && generation === state.generation && since !== null) query.since = since;
    return query;
  };
  state.sockets.candles = liveSocket(params, (message) => {
    if (generation !== state.generation || message.symbol !== symbol) return;
    if (!ofVenue(message, venue)) return;
    if (message.timeframe && message.timeframe !== timeframe) return;
    if (message.type === "replayed") {
      body.dataset.replayed = String(Number(body.dataset.replayed || 0) + message.count);
      if (message.truncated) loadHistory().catch(() => {});
      return;
    }
    if (typeof message.timestamp !== "number") return;
    if (message.closed === true && typeof message.seq === "number") lastClosed = message.seq;
    applyLive(fromLive(message));
  });
}

// The order book's socket, which also carries the market's backfill progress (named as the
// candles name it: a symbol without an exchange is Binance spot's) and the page-wide streams.
function subscribeBook() {
  state.sockets.orderbook?.close();
  const { venue, symbol } = state;
  hideBackfill();
  const progress = { type: "subscribe", stream: "progress", ...where(venue), symbol };
  const subscriptions = [progress, ...pageStreams.map((entry) => entry.subscription)];
  const params = { ...where(venue), symbol, type: "orderbook" };
  state.sockets.orderbook = liveSocket(params, (message) => {
    if (message.type === "progress") progressMessage(message, venue, symbol);
    else if (Array.isArray(message.bids)) {
      if (message.symbol === symbol && ofVenue(message, venue)) renderBook(message);
    } else pageMessage(message);
  }, subscriptions);
}

// The market shown is no longer collected (removed by an operator): say so, keep what is drawn.
function marketRemoved(message) {
  setStatus(message.message, "reconnecting");
  body.dataset.marketRemoved = message.market;
}

// ---------------------------------------------------------------- backfill progress

// A progress report, shown when it is the selected market's.
function progressMessage(message, venue, symbol) {
  const report = message.data;
  if (!report || report.symbol !== symbol) return;
  if (!ofVenue(report, venue) || venue !== state.venue) return;
  showProgress(report);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "unknown";
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

const count = (n) => Number(n).toLocaleString("en-US");

function showProgress(report) {
  const panel = $("backfill");
  body.dataset.backfill = report.status;
  body.dataset.backfillPercent = report.percent;
  if (report.status === "done") {
    hideBackfill();
    body.dataset.backfill = "done";
    // The chart now has the whole history: draw it again.
    loadHistory().then(() => loadMarks()).catch(() => {});
    return;
  }
  state.backfill = report;
  panel.hidden = false;
  panel.dataset.status = report.status;
  $("backfill-market").textContent = `${state.symbol} · ${venueName(state.venue)}`;
  $("backfill-fill").style.width = `${Math.min(100, parseFloat(report.percent))}%`;
  $("backfill-bar").setAttribute("aria-valuenow", report.percent);
  const figures = [
    `${report.percent} %`,
    `${count(report.done)} / ${count(report.total)} minutes`,
    `${count(report.rate)} candles/s`,
    `ETA ${duration(report.eta_seconds)}`,
  ];
  const headline = { error: "failed", removed: "removed" }[report.status];
  $("backfill-figures").textContent = headline ? `${headline} at ${figures[0]}` : figures.join(" · ");
  $("backfill-message").textContent = report.message;
}

function hideBackfill() {
  state.backfill = null;
  $("backfill").hidden = true;
  body.dataset.backfill = "none";
  delete body.dataset.backfillPercent;
}

// The book panel emptied, until the new market's book arrives.
function clearBook() {
  $("asks").replaceChildren();
  $("bids").replaceChildren();
  $("spread").textContent = "–";
  body.dataset.bookRows = "0";
  delete body.dataset.bookSymbol;
  delete body.dataset.bookVenue;
}

// ---------------------------------------------------------------- order book

function bookRow(level) {
  const row = document.createElement("tr");
  for (const value of [level.price, level.quantity]) {
    const cell = document.createElement("td");
    cell.textContent = value;
    row.append(cell);
  }
  return row;
}

function renderBook(book) {
  const asks = book.asks.slice(0, BOOK_LEVELS);
  const bids = book.bids.slice(0, BOOK_LEVELS);
  // Best ask nearest the spread: asks descend towards it, bids descend from it.
  $("asks").replaceChildren(...asks.slice().reverse().map(bookRow));
  $("bids").replaceChildren(...bids.map(bookRow));
  if (asks.length && bids.length) {
    const ask = parseFloat(asks[0].price);
    const bid = parseFloat(bids[0].price);
    const spread = ask - bid;
    const percent = (spread / ((ask + bid) / 2)) * 100;
    $("spread").textContent = `spread ${spread.toFixed(2)} (${percent.toFixed(4)}%)`;
  } else {
    $("spread").textContent = "–";
  }
  body.dataset.bookRows = String(asks.length + bids.length);
  body.dataset.bookSymbol = book.symbol;
  body.dataset.bookVenue = venueKey({ exchange: book.exchange || "binance", kind: book.kind || "spot" });
}

async function loadBook() {
  const { venue, symbol } = state;
  const response = await fetch(api("/orderbook", { symbol, levels: "20" }, venue));
  if (!response.ok || symbol !== state.symbol || venue !== state.venue) return;
  const book = await response.json();
  if (symbol === state.symbol && venue === state.venue) renderBook(book);
}

// ---------------------------------------------------------------- price

async function loadPrice() {
  if (!state.symbol) return;
  const { venue, symbol, timeframe } = state;
  const response = await fetch(api("/price", { symbol, timeframe }, venue));
  if (!response.ok) return;
  const price = await response.json();
  if (symbol !== state.symbol || venue !== state.venue || timeframe !== state.timeframe) return;
  const direction = price.trend === "down" ? "down" : "up";
  const sign = parseFloat(price.change_percent) > 0 ? "+" : "";
  const change = `${sign}${parseFloat(price.change_percent).toFixed(2)}%`;
  $("price").innerHTML = "";
  const label = document.createElement("span");
  label.className = price.trend === "neutral" ? "" : direction;
  label.textContent = `${price.symbol} ${price.current_price} (${change})`;
  $("price").append(label);
}

// ---------------------------------------------------------------- recent orders

function short(address) {
  if (!address) return "";
  if (address === ETH) return "ETH";
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

function orderRow(order) {
  const row = document.createElement("tr");
  const created = order.created_at ? order.created_at.slice(11, 19) : "";
  const values = [
    order.id, order.order_type, order.is_long ? "long" : "short", short(order.token_in),
    short(order.token_out), order.amount_in, order.target_price, order.status,
    short(order.user_address), created,
  ];
  for (const value of values) {
    const cell = document.createElement("td");
    cell.textContent = String(value);
    row.append(cell);
  }
  row.children[7].className = `status-${order.status}`;
  return row;
}

async function pollOrders() {
  try {
    const response = await fetch(`${state.orderApi}/orders/all?limit=20`);
    if (!response.ok) throw new Error(`order API answered ${response.status}`);
    const page = await response.json();
    $("order-rows").replaceChildren(...page.orders.map(orderRow));
    $("orders-source").textContent = `${page.total} in total · ${state.orderApi}`;
    body.dataset.orderRows = String(page.orders.length);
  } catch (error) {
    $("orders-source").textContent = `order API unreachable (${state.orderApi})`;
  } finally {
    setTimeout(pollOrders, ORDERS_POLL_MS);
  }
}

// ---------------------------------------------------------------- pickers

function selectTimeframeButton() {
  for (const button of $("timeframes").children) {
    button.classList.toggle("active", button.dataset.timeframe === state.timeframe);
  }
}

// The page's address names the market shown, so that it can be linked: `?symbol=BTCUSDT&...`
// for Binance spot, `?exchange=bybit&kind=linear&symbol=BTCUSDT&...` for another venue.
function linkTo(venue, symbol, timeframe) {
  const url = new URL(location.href);
  const kept = [...url.searchParams].filter(
    ([name]) => !["exchange", "kind", "symbol", "timeframe"].includes(name),
  );
  url.search = String(new URLSearchParams([
    ...Object.entries({ ...where(venue), symbol, timeframe }), ...kept,
  ]));
  history.replaceState(null, "", url);
  document.title = `Linkora · ${symbol} · ${venueName(venue)}`;
}

async function show(symbol, timeframe, venue = state.venue) {
  const marketChanged = symbol !== state.symbol || venue !== state.venue;
  state.venue = venue;
  state.symbol = symbol;
  state.timeframe = timeframe;
  state.generation += 1;
  body.dataset.venue = venueKey(venue);
  body.dataset.symbol = symbol;
  body.dataset.timeframe = timeframe;
  $("venue").value = venueKey(venue);
  selectTimeframeButton();
  chart.applyOptions({ timeScale: { timeVisible: SECONDS[timeframe] < 86400 } });
  linkTo(venue, symbol, timeframe);
  clearMarks();
  subscribeCandles();
  if (marketChanged) {
    $("price").replaceChildren();
    delete body.dataset.marketRemoved;
    clearBook();
    subscribeBook();
    loadBook().catch(() => {});
  }
  renderLegend();
  loadPrice().catch(() => {});
  try {
    await loadHistory();
  } catch (error) {
    setStatus(String(error.message || error), "reconnecting");
  }
  await loadMarks().catch(() => {});
}

async function symbolsOf(venue) {
  const response = await fetch(api("/symbols", {}, venue));
  if (!response.ok) throw new Error(`/symbols answered ${response.status}`);
  return (await response.json()).symbols;
}

// The venues offered: those /exchanges reports collected (in its order, Binance spot first);
// from a server without /exchanges, each known venue that lists symbols.
async function loadVenues() {
  const response = await fetch("/exchanges").catch(() => null);
  let venues;
  if (response && response.ok) {
    const { exchanges } = await response.json();
    venues = exchanges.flatMap(({ exchange, kinds }) =>
      kinds.filter((k) => k.status !== "not_collected").map((k) => ({ exchange, kind: k.kind, status: k.status })),
    );
  } else {
    const listed = await Promise.all(
      VENUES.map((venue) => symbolsOf(venue).then((symbols) => symbols.length > 0, () => false)),
    );
    venues = VENUES.filter((_, i) => listed[i]);
  }
  venues.sort((a, b) => (venueKey(b) === DEFAULT_VENUE) - (venueKey(a) === DEFAULT_VENUE));
  return venues.length ? venues : [VENUES[0]];
}

// The symbol to show on a venue: the one asked for, else the same pair in the venue's spelling
// (BTCUSDT, BTC-USDT, BTC_USDT, BTC-USDT-SWAP), else BTC against USDT, else the first.
function pickSymbol(symbols, wanted) {
  const pair = (symbol) => symbol.replace(/-SWAP$/, "").replace(/[-_]/g, "");
  return (
    symbols.find((symbol) => symbol === wanted) ||
    symbols.find((symbol) => pair(symbol) === pair(wanted || "")) ||
    symbols.find((symbol) => pair(symbol) === "BTCUSDT") ||
    symbols[0]
  );
}

function fillSymbols(symbols, symbol) {
  const select = $("symbol");
  select.replaceChildren(...symbols.map((s) => new Option(s, s)));
  select.value = symbol;
}

async function switchVenue(key) {
  const venue = state.venues.find((v) => venueKey(v) === key);
  const symbols = await symbolsOf(venue);
  if ($("venue").value !== key) return; // another venue was chosen meanwhile
  const symbol = pickSymbol(symbols, state.symbol);
  if (!symbol) {
    $("venue").value = venueKey(state.venue);
    setStatus(`no markets on ${venueName(venue)} yet`, "reconnecting");
    return;
  }
  fillSymbols(symbols, symbol);
  await show(symbol, state.timeframe, venue);
}

function buildPickers(symbols) {
  const venues = $("venue");
  venues.replaceChildren(
    ...state.venues.map((venue) => {
      const status = venue.status === "online" ? "" : ` (${venue.status})`;
      return new Option(`${venueName(venue)}${status}`, venueKey(venue));
    }),
  );
  venues.value = venueKey(state.venue);
  venues.onchange = () => switchVenue(venues.value).catch((error) => {
    setStatus(String(error.message || error), "reconnecting");
  });
  const select = $("symbol");
  fillSymbols(symbols, state.symbol);
  select.onchange = () => show(select.value, state.timeframe);
  $("timeframes").replaceChildren(
    ...TIMEFRAMES.map((timeframe) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = timeframe;
      button.dataset.timeframe = timeframe;
      button.onclick = () => show(state.symbol, timeframe);
      return button;
    }),
  );
}

async function main() {
  const config = await (await fetch("/page-config.json")).json();
  state.orderApi = config.order_api_url;
  // Marks are optional: an older server, or one with no token pair mapped, has none.
  const udf = await fetch("/udf/config").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  state.marksEnabled = udf.supports_marks === true;
  const params = new URLSearchParams(location.search);
  state.venues = await loadVenues();
  // A venue the address names (its exchange's spot market when it names no kind), if offered.
  const exchange = (params.get("exchange") || "").toLowerCase();
  const kind = (params.get("kind") || "spot").toLowerCase();
  const venue = state.venues.find((v) => v.exchange === exchange && v.kind === kind) || state.venues[0];
  const symbols = await symbolsOf(venue);
  const symbol = pickSymbol(symbols, (params.get("symbol") || "").toUpperCase());
  const timeframe = TIMEFRAMES.includes(params.get("timeframe")) ? params.get("timeframe") : "1";
  state.venue = venue;
  state.symbol = symbol;
  buildPickers(symbols);
  state.symbol = null;
  await show(symbol, timeframe, venue);
  pollOrders();
  setInterval(() => loadPrice().catch(() => {}), PRICE_POLL_MS);
  if (state.marksEnabled) setInterval(() => loadMarks().catch(() => {}), MARKS_POLL_MS);
  body.dataset.ready = "true";
}

// For tests and debugging: what the chart holds, read back from the series themselves.
window.linkoraChart = {
  state,
  show,
  candles: () => candleSeries.data(),
  volumes: () => volumeSeries.data(),
  markers: () => orderMarkers.markers(),
  // Where a bar's close is drawn, in page coordinates (null when it is off screen).
  barPoint(time) {
    const bar = state.bars.find((b) => b.time === time);
    const x = bar ? chart.timeScale().timeToCoordinate(bar.time) : null;
    const y = bar ? candleSeries.priceToCoordinate(bar.close) : null;
    if (x === null || y === null) return null;
    const box = $("chart").getBoundingClientRect();
    return { x: box.left + x, y: box.top + y };
  },
  // Where a marker's bar is drawn, in page coordinates (null when it is off screen).
  markerPoint(id) {
    const mark = state.marks.get(String(id));
    const bar = mark && state.bars.find((b) => b.time === mark.time);
    if (!bar) return null;
    const x = chart.timeScale().timeToCoordinate(bar.time);
    const price = mark.label === "B" ? bar.low : bar.high;
    const y = candleSeries.priceToCoordinate(price);
    if (x === null || y === null) return null;
    const box = $("chart").getBoundingClientRect();
    return { x: box.left + x, y: box.top + y + (mark.label === "B" ? 14 : -14) };
  },
};

main().catch((error) => {
  pageSocket();
  setStatus(`failed to start: ${error.message || error}`, "reconnecting");
  body.dataset.error = String(error.message || error);
});
