// Keqing's own small script: registers the service worker; "tick all" boxes. No framework.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
    });
  }
  // Today's page tells the service worker whose cards may be kept for offline reading.
  var today = document.querySelector("[data-today-cards]");
  if (today && "serviceWorker" in navigator) {
    navigator.serviceWorker.ready.then(function (registration) {
      var cards = today.getAttribute("data-today-cards").split(" ").filter(Boolean);
      if (registration.active) registration.active.postMessage({ type: "today", cards: cards });
    });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    var name = box && box.getAttribute && box.getAttribute("data-check-all");
    if (!name) return;
    var form = box.form || document;
    form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (other) {
      other.checked = box.checked;
    });
  });
})();
