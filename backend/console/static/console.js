// Onsite console: small progressive enhancement. No inline scripts (the CSP forbids them): data comes from
// data-* attributes. Everything works without this file; it adds the ticking countdown and the board refresh.
(function () {
  "use strict";

  var body = document.body;
  // The server's clock, not the browser's, decides how much time is left (they may disagree, or a test clock runs).
  var offsetMs = 0;
  function syncClock(serverNowIso) {
    var serverNow = Date.parse(serverNowIso);
    if (!isNaN(serverNow)) offsetMs = serverNow - Date.now();
  }
  function now() { return Date.now() + offsetMs; }
  syncClock(body.getAttribute("data-server-now"));
  var urgentMs = parseInt(body.getAttribute("data-urgent-seconds") || "7200", 10) * 1000;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function formatLeft(ms) {
    var total = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return (ms < 0 ? "\u2212" : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
  }

  // Same thresholds as backend/console/urgency.py.
  function urgencyOf(ms) { return ms < 0 ? "missed" : ms <= urgentMs ? "soon" : "ok"; }

  function tick() {
    var table = document.querySelector("[data-board]");
    var labelOverdue = table ? table.getAttribute("data-label-overdue") : "";
    var labelLeft = table ? table.getAttribute("data-label-left") : "";
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - now();
      el.textContent = formatLeft(left);
      var row = el.closest("tr");
      if (row && row.hasAttribute("data-urgency")) {
        var urgency = urgencyOf(left);
        if (row.getAttribute("data-urgency") !== urgency) {
          row.classList.remove("urgency-ok", "urgency-soon", "urgency-missed");
          row.classList.add("urgency-" + urgency);
          row.setAttribute("data-urgency", urgency);
        }
        var label = row.querySelector(".countdown-label");
        if (label && labelOverdue) label.textContent = left <= 0 ? labelOverdue : labelLeft;
      }
    });
  }

  // The board refreshes its rows in place: filters (the query string) and scroll position stay as they are.
  var REFRESH_MS = 20000;
  function refreshBoard() {
    var table = document.querySelector("[data-board]");
    if (!table) return;
    var state = document.querySelector("[data-refresh-state]");
    fetch(table.getAttribute("data-refresh-url") + window.location.search,
          {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();  // signed out meanwhile: show the sign-in page
          return null;
        }
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var tbody = table.querySelector("tbody");
        tbody.innerHTML = html;
        var first = tbody.querySelector("[data-server-now]");
        if (first) syncClock(first.getAttribute("data-server-now"));
        tick();
        if (state) { state.textContent = ""; state.classList.remove("stale"); }
      })
      .catch(function () {
        if (state) { state.textContent = state.getAttribute("data-offline") || "\u26a0"; state.classList.add("stale"); }
      });
  }

  // A form asking to confirm (e.g. cancelling a job) says so in data-confirm.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  tick();
  window.setInterval(tick, 1000);
  if (document.querySelector("[data-board]")) window.setInterval(refreshBoard, REFRESH_MS);
})();
