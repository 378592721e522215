// The Ledger page's charts: the NAV (with the benchmark scaled to its start) and the drawdown
// under it, drawn with Lightweight Charts from the page's JSON endpoint (data-url). Each chart
// says how many points it drew in data-points once drawn.
"use strict";

function drawdowns(values) {
  let peak = -Infinity;
  return values.map((value) => {
    peak = Math.max(peak, value);
    return peak > 0 ? value / peak - 1 : 0;
  });
}

function benchmarkLine(data) {
  const closes = new Map(data.benchmark.closes);
  const start = data.dates.findIndex((date) => closes.has(date));
  if (start < 0) return [];
  const scale = data.nav[start] / closes.get(data.dates[start]);
  return data.dates
    .filter((date) => closes.has(date))
    .map((date) => ({ time: date, value: closes.get(date) * scale }));
}

function chart(element, height) {
  return LightweightCharts.createChart(element, {
    height,
    autoSize: true,
    layout: { attributionLogo: false },
    timeScale: { borderVisible: false },
  });
}

async function drawLedger() {
  const navElement = document.getElementById("nav-chart");
  const drawdownElement = document.getElementById("drawdown-chart");
  if (!navElement || !drawdownElement) return;
  const answer = await fetch(navElement.dataset.url, { credentials: "same-origin" });
  if (!answer.ok) return;
  const data = await answer.json();
  const navPoints = data.dates.map((date, i) => ({ time: date, value: data.nav[i] }));
  const navChart = chart(navElement, 300);
  navChart.addLineSeries({ title: "NAV" }).setData(navPoints);
  const benchmark = benchmarkLine(data);
  if (benchmark.length) {
    navChart.addLineSeries({ title: data.benchmark.symbol, color: "#888" }).setData(benchmark);
  }
  navChart.timeScale().fitContent();
  const drawdownPoints = drawdowns(data.nav).map((value, i) => ({ time: data.dates[i], value }));
  const drawdownChart = chart(drawdownElement, 150);
  drawdownChart.addAreaSeries({ title: "Drawdown" }).setData(drawdownPoints);
  drawdownChart.timeScale().fitContent();
  navElement.dataset.points = String(navPoints.length);
  navElement.dataset.benchmarkPoints = String(benchmark.length);
  drawdownElement.dataset.points = String(drawdownPoints.length);
}

document.addEventListener("DOMContentLoaded", drawLedger);
