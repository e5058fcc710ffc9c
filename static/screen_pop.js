// Screen pop: when the telephony platform reports that this agent answered a call (or had one
// transferred to them), open the call: the caller's contact with open cases and last contacts,
// or a prefilled call form. Server-sent events from our own origin (/samtal/handelser).
// - The stream is short-lived; EventSource reconnects by itself and sends Last-Event-ID, so no
//   pop is lost in between. The last id seen is kept per tab (sessionStorage), so a new page
//   continues where the previous one stopped, and a pop never opens twice.
// - If the agent has typed on this page, the call is offered (a banner with a link) instead of
//   leaving the page. Without this script, "Senaste samtal" lists the same calls.
(function () {
  'use strict';
  var root = document.getElementById('screen-pop');
  if (!root || !window.EventSource) { return; }
  var KEY = 'kontaktcenter.screenPop.lastEventId';
  var text = document.getElementById('screen-pop-text');
  var link = document.getElementById('screen-pop-link');
  var typed = false;

  function remember(id) {
    try { if (id) { window.sessionStorage.setItem(KEY, id); } } catch (e) { /* storage off */ }
  }

  function recalled() {
    try { return window.sessionStorage.getItem(KEY); } catch (e) { return null; }
  }

  document.addEventListener('input', function () { typed = true; }, true);

  var url = root.getAttribute('data-stream');
  var last = recalled();
  if (last) { url += (url.indexOf('?') < 0 ? '?' : '&') + 'last=' + encodeURIComponent(last); }
  var source = new EventSource(url);

  source.addEventListener('hello', function (event) {
    if (!recalled()) { remember(event.lastEventId); }
  });

  source.addEventListener('pop', function (event) {
    remember(event.lastEventId);
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (!data || typeof data.url !== 'string' || data.url.charAt(0) !== '/' || data.url.charAt(1) === '/') { return; }
    if (!typed) {
      source.close();
      window.location.assign(data.url);
      return;
    }
    text.textContent = 'Samtal från ' + (data.caller || 'okänt nummer');
    link.setAttribute('href', data.url);
    var main = document.getElementById('main');
    if (main && root.parentNode !== main) { main.insertBefore(root, main.firstChild); }
    root.hidden = false;
  });
}());
