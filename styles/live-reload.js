// Served by `publish preview` only: reload the page when a newer build exists.
// The page carries the number of the build it shows; the server sends the newest number when the
// stream opens and after every build, so a build finished while the page was loading is not missed.
(function () {
  "use strict";
  var shown = document.currentScript.getAttribute("data-generation");
  var events = new EventSource("/__publish__/events");
  events.onmessage = function (event) {
    if (event.data !== shown) {
      events.close();
      window.location.reload();
    }
  };
})();
