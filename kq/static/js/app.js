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
  // Log on Today: one copy of the form (from its <template>) under the item tapped.
  document.addEventListener("click", function (event) {
    var open = event.target.closest && event.target.closest("[data-log-open]");
    var template = document.getElementById("log-panel");
    if (!open || !template) return;
    event.preventDefault();
    var item = open.closest(".task") || open.parentNode;
    var shown = item.querySelector("form[data-log-form]");
    if (shown) { shown.remove(); open.classList.remove("is-open"); return; }
    var form = template.content.firstElementChild.cloneNode(true);
    form.querySelector('[name="customer_id"]').value = open.getAttribute("data-customer");
    form.querySelector('[name="task_id"]').value = open.getAttribute("data-task");
    var token = document.querySelector('meta[name="csrf-token"]');
    form.querySelector('[name="csrf_token"]').value = token ? token.content : "";
    form.querySelector('[name="client_id"]').value = window.crypto && crypto.randomUUID ? crypto.randomUUID() : "";
    form.setAttribute("data-inline", "");
    item.appendChild(form);
    open.classList.add("is-open");
  });
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
