// Manage → Scripts editor: the text as the chosen customer would get it, its length against the
// store's limit (checked by the server on the longest names) or its spoken seconds, refreshed
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
  var seconds = document.getElementById("seconds");
  var problems = document.getElementById("problems");
  var sms = form.querySelector("[data-sms]");
  var spokenBox = form.querySelector("[data-spoken]");
  var today = form.querySelector("[data-today]");
  var kinds = (form.dataset.kinds || "").split(" ");
  var spoken = (form.dataset.spoken || "").split(" ");
  var timer = null, busy = false, again = false;

  function show(answer) {
    preview.textContent = answer.text;
    length.textContent = answer.length;
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

  function soon() { clearTimeout(timer); timer = setTimeout(ask, 250); }
  body.addEventListener("input", soon);
  channel.addEventListener("change", function () { layout(); ask(); });
  purpose.addEventListener("change", layout);
  if (customer) { customer.addEventListener("change", ask); }
  layout();
})();
