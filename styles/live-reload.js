// Served by `publish preview` only: reload the page when a newer build exists, keeping the place.
// The page carries the number of the build it shows; the server sends the newest number when the
// stream opens and after every build, so a build finished while the page was loading is not missed.
// The print edition's page listens to a stream of its own (data-events): it reloads when a PDF is laid out.
(function () {
  "use strict";
  var shown = document.currentScript.getAttribute("data-generation");
  var stream = document.currentScript.getAttribute("data-events") || "/__publish__/events";
  var key = "publish-preview-place";

  // The place is kept as "this section, this far down", not as a pixel offset of the whole page:
  // chapters out of sight have estimated heights (content-visibility), so offsets would drift.
  function remember() {
    var sections = document.querySelectorAll("main > [id], main > header");
    for (var i = 0; i < sections.length; i++) {
      var box = sections[i].getBoundingClientRect();
      if (box.bottom > 0) {
        sessionStorage.setItem(key, JSON.stringify({ id: sections[i].id, below: -box.top }));
        return;
      }
    }
  }

  function restore() {
    var saved = JSON.parse(sessionStorage.getItem(key) || "null");
    sessionStorage.removeItem(key);
    var section = saved && saved.id && document.getElementById(saved.id);
    if (!section) return;
    // Sections coming into view are laid out for real and change height, and so do the fonts when
    // they arrive: place the section again for a few frames, and once the fonts are in.
    function place(frames) {
      var top = section.getBoundingClientRect().top + window.scrollY + saved.below;
      if (Math.abs(top - window.scrollY) > 0.5) window.scrollTo({ top: top, behavior: "instant" });
      if (frames > 0) requestAnimationFrame(function () { place(frames - 1); });
    }
    place(10);
    document.fonts.ready.then(function () { place(10); });
  }

  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  restore();

  var events = new EventSource(stream);
  events.onmessage = function (event) {
    if (event.data !== shown) {
      events.close();
      remember();
      window.location.reload();
    }
  };
})();
