// billingos admin, churn model report: the calibration chart (Chart.js, vendored). The figures come from the
// page as JSON (<script type="application/json" id="bos-calibration-data">); the same figures are in the table.
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("bos-calibration");
    var source = document.getElementById("bos-calibration-data");
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent || "null");
    if (!data || !data.bins || !data.bins.length) return;
    var pct = function (v) { return Math.round(v * 100) + "%"; };
    new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          {
            label: "This model",
            data: data.bins.map(function (b) { return { x: b.predicted, y: b.observed, n: b.count }; }),
            showLine: true,
            borderColor: "#0172ad",
            backgroundColor: "#0172ad",
            pointRadius: data.bins.map(function (b) { return Math.min(9, 3 + Math.log10(1 + b.count) * 2); }),
          },
          {
            label: "Perfectly calibrated",
            data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
            showLine: true,
            borderColor: "#8891a4",
            borderDash: [6, 4],
            pointRadius: 0,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { min: 0, max: 1, title: { display: true, text: "Predicted churn" }, ticks: { callback: pct } },
          y: { min: 0, max: 1, title: { display: true, text: "Observed churn" }, ticks: { callback: pct } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (c) {
                var p = c.raw;
                return "predicted " + pct(p.x) + ", observed " + pct(p.y) + (p.n ? " (" + p.n + " rows)" : "");
              },
            },
          },
        },
      },
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
