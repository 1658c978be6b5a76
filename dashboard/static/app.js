// jetjobs dashboard: live refresh of the parts of a page marked data-live,
// every few seconds while the tab is visible; and "select all" on lists.
// Pages work without it.
(function () {
  'use strict';
  var body = document.body;
  var every = parseInt(body.getAttribute('data-refresh') || '0', 10) * 1000;
  var timer = null;
  var busy = false;
  var offline = document.getElementById('offline');

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(window.location.href, { headers: { 'X-Jetjobs-Live': '1' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (resp) { return resp.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) { el.replaceWith(document.importNode(fresh, true)); }
        });
        if (offline) { offline.hidden = true; }
        body.setAttribute('data-refreshed', String(Date.now()));
      })
      .catch(function () { if (offline) { offline.hidden = false; } })
      .then(function () { busy = false; });
  }
  function start() { if (every > 0 && timer === null) { timer = window.setInterval(refresh, every); } }
  function stop() { if (timer !== null) { window.clearInterval(timer); timer = null; } }
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) { stop(); } else { refresh(); start(); }
  });
  if (!document.hidden) { start(); }

  var all = document.getElementById('select-all');
  if (all) {
    all.addEventListener('change', function () {
      document.querySelectorAll('input[type=checkbox][name=seq]').forEach(function (c) { c.checked = all.checked; });
    });
  }
}());
