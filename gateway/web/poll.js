// poll.js keeps parts of a dashboard page fresh without a reload: every
// element with a data-poll attribute is refilled, every few seconds, with
// the HTML its URL answers (the same page with ?part=...). It waits while
// the tab is hidden, and leaves the part alone while it has not changed.
// Once the session has ended it reloads the page, which asks to log in.
(function () {
  "use strict";
  var every = 3000;
  document.querySelectorAll("[data-poll]").forEach(function (el) {
    var last = null;
    var busy = false;
    function refresh() {
      if (busy || document.hidden) {
        return;
      }
      busy = true;
      fetch(el.getAttribute("data-poll"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.redirected) {
            // The session ended and the part answered with the login
            // page: load the whole page again, which leads there.
            window.location.reload();
            return null;
          }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== last) {
            last = html;
            el.innerHTML = html;
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    setInterval(refresh, every);
  });
})();
