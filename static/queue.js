/* The queue and the inbox refresh themselves, politely.
 *
 * Every 30 s the page asks how many cases arrived in its filter since it was shown and says so
 * in a status region ("3 nya ärenden"). When there is news and nobody is reading (no key,
 * pointer, scroll or focus in a form for 60 s, the page scrolled to the top, the tab visible),
 * the list reloads. The agent can pause that (WCAG 2.2.1), and the pause is remembered for
 * the tab. Without JavaScript the "Uppdatera listan" link does the same by hand.
 */
(function () {
  "use strict";
  var live = document.querySelector(".queue-live[data-poll]");
  if (!live) return;
  var news = document.getElementById("queue-news");
  var pause = document.getElementById("queue-pause");
  var POLL_MS = 1000 * Number(live.getAttribute("data-poll-seconds") || 30);
  var IDLE_MS = 1000 * Number(live.getAttribute("data-idle-seconds") || 60);
  var KEY = "kc-queue-paused";
  var lastActivity = Date.now();
  var paused = sessionStorage.getItem(KEY) === "1";

  function showPause() {
    pause.hidden = false;
    pause.setAttribute("aria-pressed", paused ? "true" : "false");
    pause.textContent = paused ? "Återuppta automatisk uppdatering" : "Pausa automatisk uppdatering";
  }
  pause.addEventListener("click", function () {
    paused = !paused;
    sessionStorage.setItem(KEY, paused ? "1" : "0");
    showPause();
  });
  showPause();

  ["keydown", "pointerdown", "wheel", "scroll", "focusin"].forEach(function (name) {
    window.addEventListener(name, function () { lastActivity = Date.now(); }, { passive: true });
  });

  function reading() {
    var active = document.activeElement;
    var inForm = active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
    return inForm || window.scrollY > 40 || Date.now() - lastActivity < IDLE_MS ||
      document.visibilityState !== "visible";
  }

  function poll() {
    fetch(live.getAttribute("data-poll"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || !body.new) return;
        news.textContent = body.new === 1 ? "1 nytt ärende har kommit." : body.new + " nya ärenden har kommit.";
        if (!paused && !reading()) window.location.reload();
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(poll, POLL_MS);
})();
