// The offline outbox: a contact logged on the phone is kept in IndexedDB with its client id
// until the server has it. Sent at once when there is a network, again when the network comes
// back and at every app start (Safari has no Background Sync). The client id makes every retry
// safe: the server stores an entry once. An expired CSRF token is renewed and the entry sent
// again; with no session the entries wait for the next sign-in; an entry the server refuses is
// shown to the user, never dropped silently.
(function () {
  "use strict";
  var DB_NAME = "kq-outbox", STORE = "entries";
  var page = document.documentElement;
  var t = function (key) { return page.getAttribute("data-t-" + key) || key; };
  var syncing = null;

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
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(entry.payload),
    });
  }

  function sendOne(entry) {
    return post(entry, token()).then(function (response) {
      if (response.status === 400) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (body.error !== "csrf_expired") return response;
          return freshToken().then(function (csrf) { return post(entry, csrf); });
        });
      }
      return response;
    }).then(function (response) {
      if (response.status === 200 || response.status === 201) return outbox.remove(entry.client_id);
      if (response.status === 401) throw { signedOut: true };
      if (response.status >= 400 && response.status < 500) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          entry.rejected = true;
          entry.problem = body.message || Object.keys(body.errors || {}).map(function (k) {
            return (body.errors[k] || []).join(" ");
          }).join(" ") || String(response.status);
          return outbox.put(entry);
        });
      }
      throw { later: true };  // 5xx: the server is unwell, try again later
    });
  }

  function sync() {
    if (syncing) return syncing;
    syncing = outbox.all().then(function (entries) {
      var waiting = entries.filter(function (e) { return !e.rejected; });
      return waiting.reduce(function (chain, entry) {
        return chain.then(function () { return sendOne(entry); });
      }, Promise.resolve());
    }).catch(function () { /* offline, signed out or server down: the entries wait */ })
      .then(function () { syncing = null; return render(); });
    return syncing;
  }
  outbox.sync = sync;

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
        text.textContent = (entry.label || "") + " — " + (entry.problem || "");
        var drop = document.createElement("button");
        drop.type = "button"; drop.className = "btn btn-small"; drop.textContent = t("discard");
        drop.addEventListener("click", function () {
          if (window.confirm(t("discard-confirm"))) outbox.remove(entry.client_id).then(render);
        });
        item.appendChild(text); item.appendChild(drop); list.appendChild(item);
      });
      // Items logged on this phone but not yet sent show as done, also on a cached page.
      entries.forEach(function (entry) {
        var item = entry.payload && entry.payload.task_id && document.getElementById("t" + entry.payload.task_id);
        if (item && !entry.rejected) item.classList.add("is-done", "is-saved");
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

  window.addEventListener("online", sync);
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
