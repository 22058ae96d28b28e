// The web edition's few behaviours; the page reads well without them.
// - On a narrow screen the contents are a menu: closed at first, closed again after a choice or Escape.
// - The chapter being read is marked in the contents (aria-current="location").
(function () {
  "use strict";
  var nav = document.getElementById("contents");
  if (!nav) return;
  var details = nav.querySelector("details");
  var summary = nav.querySelector("summary");
  var narrow = window.matchMedia("(max-width: 52rem)");

  function fit() { details.open = !narrow.matches; }
  fit();
  narrow.addEventListener("change", fit);

  summary.addEventListener("click", function (event) {
    if (!narrow.matches) event.preventDefault();  // beside the text the contents stay open
  });
  nav.addEventListener("click", function (event) {
    if (narrow.matches && event.target.closest("a")) details.open = false;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && narrow.matches && details.open) {
      details.open = false;
      summary.focus();
    }
  });

  var links = {};
  nav.querySelectorAll("a[href^='#']").forEach(function (a) { links[a.getAttribute("href").slice(1)] = a; });
  var sections = Array.prototype.filter.call(document.querySelectorAll("main section[id]"),
                                             function (s) { return links[s.id]; });
  if (!("IntersectionObserver" in window) || !sections.length) return;
  var current = null;
  function mark(id) {
    if (id === current) return;
    if (current && links[current]) links[current].removeAttribute("aria-current");
    current = id;
    if (id && links[id]) links[id].setAttribute("aria-current", "location");
  }
  var observer = new IntersectionObserver(function () {
    // The section whose top has most recently passed the upper third of the window is the one being read.
    var line = window.innerHeight / 3, reading = null;
    for (var i = 0; i < sections.length; i++) {
      if (sections[i].getBoundingClientRect().top <= line) reading = sections[i].id; else break;
    }
    mark(reading);
  }, { rootMargin: "0px 0px -66% 0px", threshold: [0, 1] });
  sections.forEach(function (s) { observer.observe(s); });
})();
