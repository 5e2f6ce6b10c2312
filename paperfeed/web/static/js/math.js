// Typesets LaTeX in titles and abstracts (elements with class "tex") with the vendored KaTeX.
// trust: false keeps \href, \url and friends from producing links (abstracts are untrusted text);
// throwOnError: false shows a malformed formula as red source instead of aborting the rest.
(function () {
  "use strict";
  function typeset() {
    if (typeof window.renderMathInElement !== "function") {
      return;
    }
    var options = {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
        { left: "$", right: "$", display: false }
      ],
      trust: false,
      throwOnError: false,
      strict: "ignore"
    };
    var nodes = document.querySelectorAll(".tex");
    for (var i = 0; i < nodes.length; i++) {
      window.renderMathInElement(nodes[i], options);
    }
    document.documentElement.classList.add("math-ready");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", typeset);
  } else {
    typeset();
  }
})();
