// Render pymdownx.arithmatex's generic output (\( \) inline, \[ \] display) with KaTeX.
(function () {
  function render(root) {
    if (typeof renderMathInElement !== "function") { return; }
    renderMathInElement(root, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true }
      ],
      throwOnError: false
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function (page) { render(page.body); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { render(document.body); });
  }
})();
