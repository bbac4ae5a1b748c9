// The admin analytics charts (MIT, part of billingos). The page embeds its numbers as JSON in
// <script type="application/json" id="bos-analytics-data">; this file draws them with the vendored
// Chart.js. No inline scripts, nothing fetched: it works under a CSP of script-src 'self'.
(function () {
  "use strict";
  var source = document.getElementById("bos-analytics-data");
  if (!source || !window.Chart) { return; }
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;

  // Gains in greens, losses in reds, FX in grey: the same colours on every chart.
  var COLORS = {
    mrr: "#0172ad", mrr_previous: "#8891a4",
    new: "#1e7b34", expansion: "#52b069", reactivation: "#a3d9a5",
    contraction: "#f08c84", churn: "#b3261e", fx: "#9aa0a6",
    customer_churn_rate: "#b3261e", gross_mrr_churn: "#e07a24", net_mrr_churn: "#5b4fc4"
  };
  var LABELS = {
    new: "New", expansion: "Expansion", reactivation: "Reactivation", contraction: "Contraction",
    churn: "Churn", fx: "FX", customer_churn_rate: "Customer churn", gross_mrr_churn: "Gross MRR churn",
    net_mrr_churn: "Net MRR churn"
  };
  var lang = document.documentElement.lang || "en";
  var currency = String(data.currency || "usd").toUpperCase();
  var money, moneyShort;
  try {
    money = new Intl.NumberFormat(lang, { style: "currency", currency: currency });
    moneyShort = new Intl.NumberFormat(lang, { style: "currency", currency: currency, notation: "compact",
                                                maximumFractionDigits: 1 });
  } catch (e) {
    money = moneyShort = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  }
  var percent = function (v) { return v == null ? "undefined" : v.toFixed(1) + "%"; };

  var style = getComputedStyle(document.body);
  Chart.defaults.font.family = style.fontFamily;
  Chart.defaults.color = style.color;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = window.matchMedia("(max-width: 576px)").matches ? 11 : 13;
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
  Chart.defaults.plugins.legend.position = "bottom";

  function tooltip(format) {
    return { mode: "index", intersect: false,
             callbacks: { label: function (c) { return c.dataset.label + ": " + format(c.parsed.y); } } };
  }

  function axis(format, stacked) {
    return { stacked: !!stacked, ticks: { callback: function (v) { return format(v); } },
             grid: { color: "rgba(128, 128, 128, 0.15)" } };
  }

  var build = {
    mrr: function () {
      var sets = [{ label: "MRR", data: data.mrr, borderColor: COLORS.mrr, backgroundColor: "rgba(1, 114, 173, 0.12)",
                    fill: true, cubicInterpolationMode: "monotone", pointRadius: data.labels.length > 60 ? 0 : 3 }];
      if (data.mrr_previous.length) {
        sets.push({ label: "Previous period", data: data.mrr_previous, borderColor: COLORS.mrr_previous,
                    borderDash: [6, 4], fill: false, cubicInterpolationMode: "monotone", pointRadius: 0 });
      }
      return { type: "line", data: { labels: data.labels, datasets: sets },
               options: { interaction: { mode: "index", intersect: false },
                          plugins: { tooltip: tooltip(function (v) { return money.format(v); }) },
                          scales: { y: axis(function (v) { return moneyShort.format(v); }) } } };
    },
    movements: function () {
      var sets = ["new", "expansion", "reactivation", "contraction", "churn", "fx"].map(function (key) {
        return { label: LABELS[key], data: data.movements[key], backgroundColor: COLORS[key], stack: "mrr" };
      });
      return { type: "bar", data: { labels: data.labels, datasets: sets },
               options: { plugins: { tooltip: tooltip(function (v) { return money.format(v); }) },
                          scales: { x: { stacked: true, grid: { display: false } },
                                    y: axis(function (v) { return moneyShort.format(v); }, true) } } };
    },
    churn: function () {
      var sets = ["customer_churn_rate", "gross_mrr_churn", "net_mrr_churn"].map(function (key) {
        return { label: LABELS[key], data: data.churn[key], borderColor: COLORS[key], backgroundColor: COLORS[key],
                 cubicInterpolationMode: "monotone", spanGaps: false, pointRadius: data.labels.length > 60 ? 0 : 3 };
      });
      return { type: "line", data: { labels: data.labels, datasets: sets },
               options: { interaction: { mode: "index", intersect: false },
                          plugins: { tooltip: tooltip(percent) },
                          scales: { y: axis(function (v) { return v + "%"; }) } } };
    }
  };

  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), function (canvas) {
    var make = build[canvas.getAttribute("data-chart")];
    if (make) { new Chart(canvas, make()); }
  });
})();
