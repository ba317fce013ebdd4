// "Undo" is offered for about a minute after a change (data-undo-until, an ISO moment):
// each offer removes itself when its minute is up, on a page load and after every htmx
// swap that brings one. Reverting from the timeline stays available afterwards.
(function () {
  "use strict";
  if (window.taskdeckUndo) {
    return;
  }
  window.taskdeckUndo = true;

  function expire(root) {
    root.querySelectorAll("[data-undo-until]:not([data-undo-timed])").forEach(function (offer) {
      offer.setAttribute("data-undo-timed", "1");
      var left = Date.parse(offer.getAttribute("data-undo-until")) - Date.now();
      window.setTimeout(function () {
        offer.remove();
      }, Math.max(0, left));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    expire(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    expire(event.target.ownerDocument || document);
  });
})();
