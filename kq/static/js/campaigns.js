// Campaign editor: the segment's live size (key / general) as its fields change.
(function () {
  "use strict";
  var out = document.querySelector("[data-segment-count]");
  var form = document.getElementById("campaign-form");
  if (!out || !form || !form.querySelector("[name=segment_key]")) return;
  var timer = null, asked = 0;
  function ask() {
    var params = new URLSearchParams();
    form.querySelectorAll("[name^=segment_]").forEach(function (el) {
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      params.append(el.name, el.value);
    });
    var mine = ++asked;
    fetch(out.dataset.url + "?" + params.toString(), {headers: {Accept: "application/json"},
                                                       credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (mine !== asked || data.total === undefined) return;
        out.querySelector("[data-total]").textContent = data.total;
        out.querySelector("[data-key]").textContent = data.key;
        out.querySelector("[data-general]").textContent = data.general;
      })
      .catch(function () {});
  }
  form.addEventListener("input", function (e) {
    if (!e.target.name || e.target.name.indexOf("segment_") !== 0) return;
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
  form.addEventListener("change", function (e) {
    if (e.target.name && e.target.name.indexOf("segment_") === 0) { clearTimeout(timer); ask(); }
  });
})();
