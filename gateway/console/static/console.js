// The console's only script: live signal tables (polling a JSON endpoint) and copy buttons.
"use strict";

const COLUMNS = ["created", "alert", "symbol", "action", "quantity", "filled", "status"];

function row(signal) {
  const tr = document.createElement("tr");
  tr.dataset.id = signal.id;
  for (const name of COLUMNS) {
    const td = document.createElement("td");
    if (name === "created") {
      const a = document.createElement("a");
      a.href = "/console/signals/" + encodeURIComponent(signal.id);
      a.textContent = signal.created;
      td.append(a);
    } else if (name === "status") {
      td.className = "status";
      const badge = document.createElement("span");
      badge.className = "badge " + signal.status;
      badge.textContent = signal.status;
      td.append(badge);
    } else {
      td.textContent = signal[name] ?? "";
      if (name === "filled") td.className = "filled";
    }
    tr.append(td);
  }
  return tr;
}

function table(signals) {
  const wrap = document.createElement("div");
  wrap.className = "scroll";
  const t = document.createElement("table");
  t.className = "signals";
  const head = t.createTHead().insertRow();
  for (const title of ["Time", "Alert", "Symbol", "Action", "Qty", "Filled", "Status"]) {
    const th = document.createElement("th");
    th.textContent = title;
    head.append(th);
  }
  const body = t.createTBody();
  for (const s of signals) body.append(row(s));
  wrap.append(t);
  return wrap;
}

function live(element) {
  const url = element.dataset.live;
  const every = Number(element.dataset.pollMs) || 1000;
  let shown = element;
  let last = "";
  async function poll() {
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (answer.ok) {
        const { signals } = await answer.json();
        const text = JSON.stringify(signals);
        if (text !== last && signals.length) {
          const fresh = table(signals);
          shown.replaceWith(fresh);
          shown = fresh;
        }
        last = text;
      }
    } finally {
      setTimeout(poll, every);
    }
  }
  setTimeout(poll, every);
}

function copy(button) {
  const source = document.getElementById(button.dataset.copy);
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach((el) => { if (el.dataset.live) live(el); });
  document.querySelectorAll("button[data-copy]").forEach(copy);
});
