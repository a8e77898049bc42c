// Keqing's own small script: registers the service worker; Today's log panel and counts;
// "tick all" boxes. No framework.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
      // Active but not in control of this page (its claim came before the page could be
      // claimed): ask it to claim now, rather than waiting for her next page.
      navigator.serviceWorker.ready.then(function (registration) {
        if (!navigator.serviceWorker.controller && registration.active) {
          registration.active.postMessage({ type: "claim" });
        }
      });
    });
  }
  function tellWorker(message) {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage(message);
    });
  }
  // Today's plan tells the service worker what to keep for offline use: the cards its items
  // link to and the day's other pages (data-today-pages: how many the plan and "more" have).
  var today = document.querySelector("[data-today-pages]");
  if (today) {
    var counts = today.getAttribute("data-today-pages").split(" ").map(Number);
    var pages = function (path, n, from) {
      var out = [];
      for (var i = from; i <= n; i++) out.push(i > 1 ? path + "?page=" + i : path);
      return out;
    };
    var cards = [].map.call(document.querySelectorAll("[data-list] a.task-name"), function (a) {
      return a.getAttribute("href");
    });
    tellWorker({ type: "today", cards: cards,
                 lists: pages("/tasks/today", counts[0], 2).concat(pages("/tasks/today/more", counts[1] || 0, 1)) });
  }

  // Today's Message links name the number only (without this script the SMS app opens
  // empty). Each text is once on the page (#sms-texts, keyed by kind or by the link's
  // data-text): its parts, every other one a slot filled here with the item's greeting name
  // or the link's data-gift.
  var texts = document.getElementById("sms-texts");
  if (texts) {
    var table = {};
    try { table = JSON.parse(texts.textContent); } catch (error) { /* the links stay as they are */ }
    document.querySelectorAll("li.task a[href^='sms:']").forEach(function (link) {
      var item = link.closest("li.task");
      var kind = (item.className.match(/(?:^| )kind-(\S+)/) || [])[1];
      var parts = table[link.getAttribute("data-text") || kind];
      if (!parts) return;
      var name = item.querySelector(".task-name");
      var values = { greeting: name ? name.textContent : "", gift: link.getAttribute("data-gift") || "" };
      var text = parts.map(function (part, i) { return i % 2 ? values[part] || "" : part; }).join("");
      link.setAttribute("href", link.getAttribute("href").split("?")[0] + "?&body=" + encodeURIComponent(text));
    });
  }

  // An item's customer: the one its name links to (or data-customer: another store's item).
  function customerOf(item) {
    var name = item.querySelector("a.task-name");
    var found = name && /\/customers\/(\d+)$/.exec(name.getAttribute("href") || "");
    return item.getAttribute("data-customer") || (found ? found[1] : "");
  }

  // The channel she just used on an item (Call: the phone, Message: SMS) is the one its log
  // panel has chosen, also when the panel is already open.
  function choose(form, channel) {
    var box = channel && form.querySelector('input[name="channel"][value="' + channel + '"]');
    if (box) box.checked = true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("li.task a[href^='sms:'], li.task a[href^='tel:']");
    if (!link) return;
    var item = link.closest("li.task");
    item.setAttribute("data-channel", link.getAttribute("href").indexOf("sms:") === 0 ? "sms" : "phone");
    var shown = item.querySelector("form[data-log-form]");
    if (shown) choose(shown, item.getAttribute("data-channel"));
  });

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
    // The customer and the item are the item's own (its name's link, id="t<task>").
    form.querySelector('[name="customer_id"]').value = open.getAttribute("data-customer") || customerOf(item);
    form.querySelector('[name="task_id"]').value = open.getAttribute("data-task") || (item.id || "").replace(/^t/, "");
    var token = document.querySelector('meta[name="csrf-token"]');
    form.querySelector('[name="csrf_token"]').value = token ? token.content : "";
    form.querySelector('[name="client_id"]').value = window.crypto && crypto.randomUUID ? crypto.randomUUID() : "";
    form.setAttribute("data-inline", "");
    choose(form, item.getAttribute("data-channel"));
    // A satisfaction callback is about the rating: it is open from the start.
    if (item.classList.contains("kind-satisfaction")) form.querySelector("details.more").open = true;
    item.appendChild(form);
    open.classList.add("is-open");
  });

  // The outcome tap sends what she entered with it; a rating and her suggestions only with an
  // outcome where she spoke with the customer (the server drops them otherwise too). This runs
  // before the outbox reads the form (capture phase).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-log-form]")) return;
    var outcome = event.submitter && event.submitter.name === "outcome" ? event.submitter.value : "";
    var rated = (form.getAttribute("data-rated") || "").split(" ");
    if (rated.indexOf(outcome) >= 0) return;
    form.querySelectorAll('input[name="satisfaction"]').forEach(function (box) { box.checked = false; });
    var suggestions = form.querySelector('[name="suggestions"]');
    if (suggestions) suggestions.value = "";
  }, true);

  // The counts at the top move as she logs, also offline: each item carries the state the
  // server rendered (data-state); the figures are the server's plus what changed since. A
  // contact closes every open item of hers for that customer, so those on the page follow.
  var summary = document.querySelector("[data-summary]");
  var lists = document.querySelectorAll("[data-list]");
  if (summary && lists.length) {
    var figures = {};
    ["done", "red", "overdue", "left"].forEach(function (name) {
      var el = summary.querySelector("[data-" + name + "]");
      var number = el && el.textContent.match(/\d+/);
      if (number) figures[name] = { el: el, base: parseInt(number[0], 10) };
    });
    var progress = summary.querySelector("progress");
    var recount = function () {
      var change = { done: 0, red: 0, overdue: 0, left: 0 };
      document.querySelectorAll("[data-list] li.task").forEach(function (item) {
        var was = item.getAttribute("data-state") === "done";
        var now = item.classList.contains("is-done");
        if (was === now) return;
        var step = now ? 1 : -1;
        var plan = item.closest("[data-list]").getAttribute("data-list") === "plan";
        var overdue = item.classList.contains("is-overdue");
        if (plan && !overdue) change.done += step;
        if (!plan) change.left -= step;
        if (overdue) change.overdue -= step;
        else if (item.classList.contains("kind-red_flag")) change.red -= step;
      });
      Object.keys(figures).forEach(function (name) {
        var f = figures[name];
        var value = String(Math.max(0, f.base + change[name]));
        f.el.textContent = f.el.textContent.replace(/\d+/, value);
        if (name === "done" && progress) progress.value = Number(value);
      });
    };
    var follow = function (item) {
      var customer = customerOf(item);
      var saved = item.classList.contains("is-saved");
      document.querySelectorAll("[data-list] li.task").forEach(function (other) {
        if (other === item || !customer || customerOf(other) !== customer) return;
        if (saved && !other.classList.contains("is-done")) {
          other.setAttribute("data-closed-by", item.id);
          other.classList.add("is-done");
        } else if (!saved && other.getAttribute("data-closed-by") === item.id) {
          other.removeAttribute("data-closed-by");
          other.classList.remove("is-done");
        }
      });
    };
    var refreshing = null;
    var keepFresh = function () {
      // Once what she logged has reached the server, the copy kept for offline use is renewed.
      if (refreshing || !window.kqOutbox || navigator.onLine === false) return;
      refreshing = Promise.resolve(window.kqOutbox.sync()).then(function () {
        refreshing = null;
        tellWorker({ type: "refresh", paths: [location.pathname + location.search, "/tasks/today"] });
      }, function () { refreshing = null; });
    };
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        var item = change.target;
        if (item.matches && item.matches("li.task") && !item.hasAttribute("data-closed-by")) {
          var old = " " + (change.oldValue || "") + " ";
          if ((old.indexOf(" is-saved ") >= 0) !== item.classList.contains("is-saved")) {
            follow(item);
            if (item.classList.contains("is-saved")) keepFresh();
          }
        }
      });
      recount();
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["class"], attributeOldValue: true });
    recount();
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
