// Manage → Scripts editor: the text as the chosen customer would get it, its length as the server
// judges it (the longest names of the store) against the limit, or its spoken seconds, refreshed
// as she types (one request at a time, a short pause after the last key).
(function () {
  "use strict";
  var form = document.getElementById("script-form");
  if (!form) { return; }
  var csrf = form.querySelector('[name="csrf_token"]').value;
  var body = form.querySelector('[name="body"]');
  var channel = form.querySelector('[name="channel"]');
  var purpose = form.querySelector('[name="purpose"]');
  var customer = form.querySelector('[name="preview_customer"]');
  var preview = document.getElementById("preview");
  var length = document.getElementById("length");
  var here = document.getElementById("length-here");
  var seconds = document.getElementById("seconds");
  var problems = document.getElementById("problems");
  var sms = form.querySelector("[data-sms]");
  var spokenBox = form.querySelector("[data-spoken]");
  var today = form.querySelector("[data-today]");
  var kinds = (form.dataset.kinds || "").split(" ");
  var spoken = (form.dataset.spoken || "").split(" ");
  var timer = null, busy = false, again = false, edited = false;

  function show(answer) {
    preview.textContent = answer.text;
    length.textContent = answer.worst === null ? 0 : answer.worst;
    if (here) { here.textContent = answer.length; }
    var stale = document.getElementById("e-body");  // the refusal's message: now listed live
    if (stale && edited) { stale.remove(); }
    length.classList.toggle("red", !!answer.over);
    seconds.textContent = answer.seconds === null ? 0 : answer.seconds;
    seconds.classList.toggle("red", answer.seconds !== null && answer.seconds > answer.voice_limit);
    problems.textContent = "";
    (answer.problems || []).forEach(function (p) {
      var li = document.createElement("li");
      li.className = "amber";
      li.textContent = p;
      problems.appendChild(li);
    });
  }

  function layout() {
    sms.hidden = channel.value !== "sms";
    spokenBox.hidden = spoken.indexOf(channel.value) < 0;
    today.hidden = !(channel.value === "sms" && kinds.indexOf(purpose.value) >= 0);
  }

  function ask() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(form.dataset.preview, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ channel: channel.value, body: body.value, customer_id: customer ? customer.value : "" })
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) { show(answer); } })
      .catch(function () { /* offline: the server checks on save */ })
      .then(function () { busy = false; if (again) { again = false; ask(); } });
  }

  function soon() { edited = true; clearTimeout(timer); timer = setTimeout(ask, 250); }
  body.addEventListener("input", soon);
  channel.addEventListener("change", function () { layout(); ask(); });
  purpose.addEventListener("change", layout);
  if (customer) { customer.addEventListener("change", ask); }
  layout();
})();

// Manage → Bulk messages: the segment's live count (to send and each skip) as she changes it.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var box = document.getElementById("segment-count");
  if (!form || !box) { return; }
  var timer = null;
  function ask() {
    var query = new URLSearchParams(new FormData(form)).toString();
    fetch(form.dataset.count + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) { return; }
        box.querySelectorAll("[data-n]").forEach(function (el) {
          var target = el.firstChild && el.firstChild.nodeType === 3 ? el.firstChild : el;
          target.textContent = String(counts[el.dataset.n]) + (target === el ? "" : " ");
        });
      })
      .catch(function () { /* offline: the Count button still works */ });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 300); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(ask, 300); });
})();

// The text form sends the segment as the form above shows it now, counted or not (the
// confirmation screen counts it again before anything is sent).
(function () {
  "use strict";
  var segment = document.getElementById("segment-form");
  var form = document.getElementById("bulk-form");
  if (!segment || !form) { return; }
  form.addEventListener("submit", function () {
    var names = ["tiers", "staff_ids", "key", "status", "dormant_min_days", "dormant_max_days", "tags"];
    form.querySelectorAll('input[type="hidden"]').forEach(function (el) {
      if (names.indexOf(el.name) >= 0) { el.remove(); }
    });
    new FormData(segment).forEach(function (value, name) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value;
      form.appendChild(input);
    });
  });
})();
