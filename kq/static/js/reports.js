// Polls a report being made and reloads the page when it is ready or has failed.
(function () {
  "use strict";
  var box = document.querySelector("[data-report-status]");
  if (!box) return;
  var state = box.getAttribute("data-state");
  if (state !== "queued" && state !== "running") return;
  var bar = box.querySelector("[data-progress]");
  function poll() {
    fetch(box.getAttribute("data-report-status"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(poll, 4000); return; }
        if (data.status === "done" || data.status === "failed") { window.location.reload(); return; }
        if (bar) bar.value = data.progress;
        setTimeout(poll, 1500);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 1000);
})();
