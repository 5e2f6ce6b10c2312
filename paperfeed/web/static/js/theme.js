// Runs in <head>, before the first paint (a plain, blocking script from this site: the CSP allows it), so
// that a page never flashes the other colour scheme. It reads the reader's choice remembered by site.js
// ("light" or "dark"; nothing means "follow the system", the CSS's prefers-color-scheme) and marks the
// page as having script, which lets the stylesheet clamp abstracts that site.js can then expand.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  try {
    var theme = window.localStorage.getItem("paperfeed-theme");
    if (theme === "light" || theme === "dark") {
      root.setAttribute("data-theme", theme);
    }
  } catch (e) {
    // Storage can be off (private windows, strict settings): the page follows the system then.
  }
})();
