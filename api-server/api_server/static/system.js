// The system panel: the WebSocket `system` stream (a snapshot like GET /system every few
// seconds): host CPU and memory, disk free, the database's size and every service process, up
// or down. Uses `$` and `followOnPage` from app.js, which loads first: the stream rides on the
// page's order book socket instead of a connection of its own.
"use strict";

(() => {
  const UNITS = ["B", "KB", "MB", "GB", "TB"];

  // A byte count for reading (not for arithmetic): three significant digits at most.
  function size(bytes) {
    if (bytes === null || bytes === undefined) return "–";
    let value = Number(bytes);
    let unit = 0;
    while (value >= 1000 && unit < UNITS.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
  }

  function figure(name, value) {
    const term = document.createElement("dt");
    term.textContent = name;
    const detail = document.createElement("dd");
    detail.textContent = value;
    detail.dataset.figure = name.toLowerCase();
    return [term, detail];
  }

  function service(entry) {
    const item = document.createElement("li");
    item.className = entry.up ? "up" : "down";
    item.dataset.service = entry.service;
    const name = document.createElement("span");
    name.textContent = entry.service;
    name.title = `${entry.instance} · ${entry.state}`;
    const detail = document.createElement("span");
    detail.className = "muted";
    detail.textContent = entry.up ? `${entry.cpu_percent} % · ${size(entry.rss_bytes)}` : `down ${entry.age_seconds} s`;
    item.append(name, detail);
    return item;
  }

  function render(snapshot) {
    const { cpu, memory, disk, database, services } = snapshot;
    $("system-figures").replaceChildren(
      ...figure("CPU", `${cpu.percent} % of ${cpu.count}`),
      ...figure("Memory", `${size(memory.used_bytes)} / ${size(memory.total_bytes)} (${memory.percent} %)`),
      ...figure("Disk free", `${size(disk.free_bytes)} of ${size(disk.total_bytes)}`),
      ...figure("Database", database.up ? size(database.size_bytes) : "unreachable"),
    );
    $("system-services").replaceChildren(...services.map(service));
    $("system-time").textContent = snapshot.time.slice(11, 19);
    body.dataset.systemTicks = String(Number(body.dataset.systemTicks) + 1);
    body.dataset.systemServices = String(services.length);
    body.dataset.systemUp = String(services.filter((s) => s.up).length);
  }

  followOnPage("system", (message) => {
    if (message.data) render(message.data);
  });
})();
