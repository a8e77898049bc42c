// The offline outbox: a contact logged on the phone is kept in IndexedDB with its client id
// until the server has it. Sent at once when there is a network, again when the network comes
// back and at every app start (Safari has no Background Sync). The client id makes every retry
// safe: the server stores an entry once. An expired CSRF token is renewed and the entry sent
// again; with no session the entries wait for the next sign-in.
// Each entry is judged on its own, so one entry never holds back the others:
// - a permanent refusal (a 4xx other than the ones below) is kept and shown with the server's
//   reason, for her to log again or discard; it is not sent again;
// - a transient failure (5xx, 408, 425, 429, a dropped connection, an answer that is not the
//   API's) waits with a growing delay (5 s, 10 s, … up to 10 minutes) and is tried again;
// - 401 (signed out, or a new password is due) stops the round: every entry would get it.
(function () {
  "use strict";
  var DB_NAME = "kq-outbox", STORE = "entries";
  var page = document.documentElement;
  var t = function (key) { return page.getAttribute("data-t-" + key) || key; };
  var syncing = null, timer = null;
  var FIRST_DELAY = 5000, MAX_DELAY = 10 * 60 * 1000;
  var TRANSIENT = [408, 425, 429];

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "client_id" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(STORE, mode);
        var result = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        transaction.onerror = function () { reject(transaction.error); };
      });
    });
  }

  var outbox = {
    put: function (entry) { return tx("readwrite", function (s) { return s.put(entry); }); },
    remove: function (id) { return tx("readwrite", function (s) { return s.delete(id); }); },
    all: function () { return tx("readonly", function (s) { return s.getAll(); }); },
  };
  window.kqOutbox = outbox;  // for the browser tests and the sign-out page

  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return sessionStorage.getItem("kq-csrf") || (meta && meta.content) || "";
  }

  function freshToken() {
    return fetch("/api/session", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) throw { signedOut: true };
        return r.json();
      })
      .then(function (data) { sessionStorage.setItem("kq-csrf", data.csrf_token); return data.csrf_token; });
  }

  function post(entry, csrf) {
    return fetch("/api/contacts", {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(entry.payload),
    });
  }

  function body(response) {
    return response.clone().json().catch(function () { return {}; });
  }

  function csrfExpired(response) {
    if (response.status !== 400 && response.status !== 403) return Promise.resolve(false);
    return body(response).then(function (data) { return data.error === "csrf_expired"; });
  }

  function reasonOf(data, status) {
    var errors = data.errors || {};
    var fields = Object.keys(errors).map(function (k) { return [].concat(errors[k]).join(" "); });
    return data.message || fields.join(" ") || String(status);
  }

  function later(entry, response) {
    entry.attempts = (entry.attempts || 0) + 1;
    var delay = Math.min(MAX_DELAY, FIRST_DELAY * Math.pow(2, entry.attempts - 1));
    var asked = response && Number(response.headers.get("Retry-After"));
    if (asked > 0) delay = Math.min(MAX_DELAY, asked * 1000);
    entry.next_try = Date.now() + delay * (0.75 + Math.random() / 4);
    return outbox.put(entry).then(function () { return "later"; });
  }

  function refuse(entry, response) {
    return body(response).then(function (data) {
      entry.rejected = true;
      entry.status = response.status;
      entry.problem = reasonOf(data, response.status);
      delete entry.next_try;
      return outbox.put(entry).then(function () { return "refused"; });
    });
  }

  function judge(entry, response) {
    var status = response.status;
    if (status === 200 || status === 201) {
      // Only the API's own answer counts as stored (not a sign-in page, not a captive portal).
      return response.json().then(function (data) {
        if (!data || !data.contact) throw new Error("not the API");
        return outbox.remove(entry.client_id).then(function () { return "stored"; });
      }).catch(function () { return later(entry, null); });
    }
    if (status === 401) return "signed-out";
    if (status >= 400 && status < 500 && TRANSIENT.indexOf(status) < 0) {
      return csrfExpired(response).then(function (expired) {
        return expired ? later(entry, response) : refuse(entry, response);
      });
    }
    return later(entry, response);  // 5xx, 408, 425, 429, a redirect: the server is unwell
  }

  function sendOne(entry) {
    return post(entry, token()).then(function (response) {
      return csrfExpired(response).then(function (expired) {
        if (!expired) return response;
        return freshToken().then(function (csrf) { return post(entry, csrf); });
      });
    }).then(function (response) {
      return judge(entry, response);
    }, function (error) {
      if (error && error.signedOut) return "signed-out";
      return later(entry, null);  // the connection failed: try again later
    });
  }

  function due(entries, now, force) {
    return entries.filter(function (e) {
      return !e.rejected && (force || !e.next_try || e.next_try <= now);
    }).sort(function (a, b) {
      return String(a.saved_at || "").localeCompare(String(b.saved_at || ""));
    });
  }

  function schedule(entries) {
    if (timer) clearTimeout(timer);
    timer = null;
    var next = entries.filter(function (e) { return !e.rejected && e.next_try; })
      .reduce(function (soonest, e) { return Math.min(soonest, e.next_try); }, Infinity);
    if (next === Infinity) return entries;
    timer = setTimeout(sync, Math.max(1000, Math.min(MAX_DELAY, next - Date.now())));
    return entries;
  }

  // options.now: try the waiting entries now, also those whose delay has not run out (the
  // network just came back).
  function sync(options) {
    var force = !!(options && options.now === true);
    if (syncing) return force ? syncing.then(function () { return sync(options); }) : syncing;
    syncing = outbox.all().then(function (entries) {
      if (navigator.onLine === false) return;
      return due(entries, Date.now(), force).reduce(function (chain, entry) {
        return chain.then(function (state) {
          return state === "signed-out" ? state : sendOne(entry);
        });
      }, Promise.resolve());
    }).catch(function () { /* IndexedDB unavailable: the entries wait */ })
      .then(function () { syncing = null; return render(); })
      .then(schedule);
    return syncing;
  }
  outbox.sync = sync;

  function fixLink(entry) {
    // A refused entry whose customer is hers can be logged again with the form; the form
    // starts empty, the reason stays shown until she discards the refused one.
    var payload = entry.payload || {};
    if (entry.status !== 422 || !/^\d{1,9}$/.test(String(payload.customer_id || ""))) return null;
    var link = document.createElement("a");
    var query = "customer_id=" + payload.customer_id;
    if (/^\d{1,9}$/.test(String(payload.task_id || ""))) query += "&task_id=" + payload.task_id;
    link.href = "/calls/log?" + query + "&next=" + encodeURIComponent(location.pathname);
    return link;
  }

  function render() {
    return outbox.all().then(function (entries) {
      var box = document.querySelector("[data-outbox-status]");
      if (!box) return entries;
      var waiting = entries.filter(function (e) { return !e.rejected; }).length;
      var rejected = entries.filter(function (e) { return e.rejected; });
      box.hidden = !waiting && !rejected.length;
      box.querySelector("[data-waiting]").textContent = waiting ? t("waiting").replace("%d", waiting) : "";
      var list = box.querySelector("[data-rejected]");
      list.textContent = "";
      rejected.forEach(function (entry) {
        var item = document.createElement("li");
        var text = document.createElement("span");
        var name = fixLink(entry) || document.createElement("span");
        name.textContent = entry.label || "";
        text.appendChild(name);
        text.appendChild(document.createTextNode(" — " + (entry.problem || "")));
        var drop = document.createElement("button");
        drop.type = "button"; drop.className = "btn btn-small"; drop.textContent = t("discard");
        drop.addEventListener("click", function () {
          if (window.confirm(t("discard-confirm"))) outbox.remove(entry.client_id).then(render);
        });
        item.appendChild(text); item.appendChild(drop); list.appendChild(item);
      });
      // Items logged on this phone but not yet sent show as done, also on a cached page; an
      // item whose entry was refused is open again.
      entries.forEach(function (entry) {
        var item = entry.payload && entry.payload.task_id && document.getElementById("t" + entry.payload.task_id);
        if (!item) return;
        if (entry.rejected) item.classList.remove("is-done", "is-saved");
        else item.classList.add("is-done", "is-saved");
      });
      var warning = document.querySelector("[data-outbox-warning]");
      if (warning) warning.hidden = !entries.length;
      return entries;
    });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  // The two-tap log form: keep the entry on the phone first, then try to send it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-log-form]") || !window.indexedDB) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    var payload = {};
    data.forEach(function (value, key) {
      if (key !== "csrf_token" && key !== "next" && value !== "") payload[key] = value;
    });
    payload.client_id = payload.client_id || uuid();
    payload.contacted_at = new Date().toISOString();
    var item = form.closest(".task, .card");
    var name = item && item.querySelector(".task-name, h2");
    var entry = { client_id: payload.client_id, payload: payload, label: name ? name.textContent.trim() : "",
                  saved_at: payload.contacted_at };
    outbox.put(entry).then(function () {
      // A new client id for the next entry from this same panel.
      var field = form.querySelector('input[name="client_id"]');
      if (field) field.value = uuid();
      if (form.hasAttribute("data-inline")) {
        var opener = item && item.querySelector("[data-log-open]");
        if (opener) opener.classList.remove("is-open");
        form.remove();
      }
      if (item) item.classList.add("is-done", "is-saved");
      return sync();
    });
  });

  window.addEventListener("online", function () { sync({ now: true }); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") sync();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sync);
  else sync();

  // Signing out: warn when entries are waiting; clear the personal pages from the cache.
  var logout = document.querySelector("form[data-logout]");
  if (logout) {
    logout.addEventListener("submit", function (event) {
      if (logout.dataset.confirmed) return;
      event.preventDefault();
      outbox.all().then(function (entries) {
        if (entries.length && !window.confirm(t("logout-confirm").replace("%d", entries.length))) return;
        var clear = window.caches ? caches.delete("kq-pages-v1") : Promise.resolve();
        if (navigator.serviceWorker && navigator.serviceWorker.controller) {
          navigator.serviceWorker.controller.postMessage({ type: "sign-out" });
        }
        clear.then(function () { logout.dataset.confirmed = "1"; logout.submit(); });
      });
    });
  }
})();
