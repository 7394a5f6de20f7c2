// The live chart page: history over REST, live candles and the order book over the WebSocket,
// recent orders polled from the order API, and the DEX's own executed and cancelled orders as
// markers from the UDF marks (when the server maps a token pair to the symbol). Plain modern
// JS; the chart library is a global (`LightweightCharts`) loaded from /static/vendor.
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

const state = {
  symbol: null,
  timeframe: "1",
  bars: [], // {time, open, high, low, close, volume}, oldest first
  liveUpdates: 0,
  orderApi: null,
  marksEnabled: false,
  marks: new Map(), // order id -> {time, label, color, lines}
  sockets: { candles: null, orderbook: null },
  generation: 0, // bumped on every symbol/timeframe switch; stale responses are dropped
};

const $ = (id) => document.getElementById(id);
const body = document.body;

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
}

function fromRest(row) {
  return {
    time: Math.floor(row.timestamp / 1000),
    open: parseFloat(row.open_price),
    high: parseFloat(row.high_price),
    low: parseFloat(row.low_price),
    close: parseFloat(row.close_price),
    volume: parseFloat(row.volume),
  };
}

function fromLive(message) {
  return {
    time: Math.floor(message.timestamp / 1000),
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
  state.liveUpdates += 1;
  body.dataset.liveUpdates = String(state.liveUpdates);
  body.dataset.lastUpdate = String(bar.time);
  body.dataset.bars = String(bars.length);
}

async function loadHistory() {
  const generation = state.generation;
  const span = Math.min(HISTORY_BARS * SECONDS[state.timeframe], 10 * 365 * 86400);
  const start = new Date(Date.now() - span * 1000).toISOString();
  const query = new URLSearchParams({
    symbol: state.symbol, timeframe: state.timeframe, limit: String(HISTORY_BARS),
    start_date: start,
  });
  const response = await fetch(`/candles?${query}`);
  if (!response.ok) throw new Error(`/candles answered ${response.status}`);
  const rows = await response.json();
  if (generation !== state.generation) return;
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
  const query = new URLSearchParams({
    symbol: state.symbol,
    resolution: RESOLUTIONS[state.timeframe] || state.timeframe,
    from: String(state.bars[0].time),
    to: String(state.bars[state.bars.length - 1].time),
  });
  const response = await fetch(`/udf/marks?${query}`);
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
// until `close()` is called.
function liveSocket(params, onMessage) {
  let socket = null;
  let attempt = 0;
  let closed = false;
  let timer = null;

  function connect() {
    socket = new WebSocket(wsUrl(params));
    socket.onopen = () => {
      attempt = 0;
      setStatus("live", "live");
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
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close(1000, "switching");
    },
  };
}

function subscribeCandles() {
  state.sockets.candles?.close();
  const { symbol, timeframe, generation } = state;
  state.sockets.candles = liveSocket({ symbol, timeframe, type: "candles" }, (message) => {
    if (generation !== state.generation || message.symbol !== symbol) return;
    if (message.timeframe && message.timeframe !== timeframe) return;
    if (typeof message.timestamp !== "number") return;
    applyLive(fromLive(message));
  });
}

function subscribeBook() {
  state.sockets.orderbook?.close();
  const symbol = state.symbol;
  state.sockets.orderbook = liveSocket({ symbol, type: "orderbook" }, (message) => {
    if (message.symbol === symbol && Array.isArray(message.bids)) renderBook(message);
  });
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
}

async function loadBook() {
  const symbol = state.symbol;
  const response = await fetch(`/orderbook?${new URLSearchParams({ symbol, levels: "20" })}`);
  if (response.ok && symbol === state.symbol) renderBook(await response.json());
}

// ---------------------------------------------------------------- price

async function loadPrice() {
  if (!state.symbol) return;
  const query = new URLSearchParams({ symbol: state.symbol, timeframe: state.timeframe });
  const response = await fetch(`/price?${query}`);
  if (!response.ok) return;
  const price = await response.json();
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

async function show(symbol, timeframe) {
  const symbolChanged = symbol !== state.symbol;
  state.symbol = symbol;
  state.timeframe = timeframe;
  state.generation += 1;
  body.dataset.symbol = symbol;
  body.dataset.timeframe = timeframe;
  selectTimeframeButton();
  chart.applyOptions({ timeScale: { timeVisible: SECONDS[timeframe] < 86400 } });
  const url = new URL(location.href);
  url.searchParams.set("symbol", symbol);
  url.searchParams.set("timeframe", timeframe);
  history.replaceState(null, "", url);
  clearMarks();
  subscribeCandles();
  if (symbolChanged) {
    subscribeBook();
    loadBook().catch(() => {});
  }
  loadPrice().catch(() => {});
  try {
    await loadHistory();
  } catch (error) {
    setStatus(String(error.message || error), "reconnecting");
  }
  await loadMarks().catch(() => {});
}

function buildPickers(symbols) {
  const select = $("symbol");
  select.replaceChildren(...symbols.map((symbol) => new Option(symbol, symbol)));
  select.value = state.symbol;
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
  const { symbols } = await (await fetch("/symbols")).json();
  const params = new URLSearchParams(location.search);
  const wanted = (params.get("symbol") || "").toUpperCase();
  const symbol = symbols.includes(wanted) ? wanted : symbols.includes("BTCUSDT") ? "BTCUSDT" : symbols[0];
  const timeframe = TIMEFRAMES.includes(params.get("timeframe")) ? params.get("timeframe") : "1";
  state.symbol = null;
  buildPickers(symbols);
  $("symbol").value = symbol;
  await show(symbol, timeframe);
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
  setStatus(`failed to start: ${error.message || error}`, "reconnecting");
  body.dataset.error = String(error.message || error);
});
