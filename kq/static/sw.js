// Keqing service worker.
// - The app shell is precached under a versioned name; older shells are removed on activation.
// - Today's lists (the plan, "more" and their pages) and the cards of every customer they list:
//   network first, the last copy when offline. When Today opens, the phone fetches the day's
//   other pages and the listed cards it has no fresh copy of, so that offline she can open any
//   of them, also one she never opened. Nothing else personal is kept, and those pages are
//   deleted on sign-out.
// - Any other page offline: the offline page.
// - Static files have fingerprinted names (/static/css/app.<hash>.css, kq/assets.py): such a
//   name never changes content, so it is served from this shell's cache once seen (the
//   install keeps those the offline page names); offline, a name not seen yet falls back to
//   the plain name kept with the shell.
const VERSION = "kq-shell-v12";
const PAGES = "kq-pages-v1";
const ALLOWED = "/__today-customers";
const LIST = /^\/tasks\/today(\/more)?$/;
const CARD = /^\/customers\/\d+$/;
const LIST_FRESH = 60 * 1000; // a list kept less than a minute ago is not fetched again
const CARD_FRESH = 3 * 60 * 60 * 1000;
const SHELL = [
  "/offline",
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/outbox.js",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];

const HASHED = /^(\/static\/.+)\.[0-9a-f]{10}(\.[A-Za-z0-9]+)$/;

// The fingerprinted names the offline page uses (its stylesheet and script).
async function keepAssetsOf(cache, path) {
  try {
    const html = await (await fetch(path, { credentials: "same-origin" })).text();
    const found = [...html.matchAll(/(?:href|src)="(\/static\/[^"?#]+)"/g)].map((m) => m[1]);
    await cache.addAll([...new Set(found.filter((p) => HASHED.test(p)))]);
  } catch (error) {
    // they are kept as they are first used
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION)
    .then((cache) => cache.addAll(SHELL).then(() => keepAssetsOf(cache, "/offline")))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("kq-shell-") && k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// A list's key keeps its page number (?page=2); a card has none.
function keyOf(url) {
  if (LIST.test(url.pathname) && (url.search === "" || /^\?page=\d{1,4}$/.test(url.search))) {
    return url.pathname + url.search;
  }
  if (CARD.test(url.pathname) && url.search === "") return url.pathname;
  return null;
}

async function allowedCards() {
  const cache = await caches.open(PAGES);
  const hit = await cache.match(ALLOWED);
  return hit ? new Set(await hit.json()) : new Set();
}

async function keepable(url) {
  const key = keyOf(url);
  if (key === null) return null;
  if (LIST.test(url.pathname)) return key;
  return (await allowedCards()).has(key) ? key : null;
}

// A signed-in answer for that very page (not the sign-in page it was redirected to).
function isPage(response, key) {
  if (!response.ok || response.redirected) return false;
  const url = new URL(response.url);
  return url.pathname + url.search === key;
}

async function networkFirst(request, key) {
  const cache = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    if (isPage(response, key)) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    return (await cache.match(key)) || (await caches.match("/offline"));
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith((async () => {
      const key = await keepable(url);
      if (key !== null) return networkFirst(request, key);
      try {
        return await fetch(request);
      } catch (error) {
        return caches.match("/offline");
      }
    })());
    return;
  }
  const hashed = HASHED.exec(url.pathname);
  if (hashed && url.search === "") {
    event.respondWith(staticFile(request, hashed[1] + hashed[2]));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(caches.match(request, { ignoreSearch: true }).then((hit) => hit || fetch(request)));
  }
});

// A fingerprinted file: kept once seen; offline and never seen, the shell's plain copy.
async function staticFile(request, plain) {
  const cache = await caches.open(VERSION);
  const hit = await cache.match(request);
  if (hit) return hit;
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const copy = await cache.match(plain);
    if (copy) return copy;
    throw error;
  }
}

function age(response) {
  const when = Date.parse(response.headers.get("date") || "");
  return Number.isNaN(when) ? Infinity : Date.now() - when;
}

// The kept copy of a page, fetched again when older than `fresh`: { copy, reached } where
// copy is null when there is none, and reached is false when the network did not answer or
// the session has ended (a redirect to the sign-in page). Throws nothing.
async function kept(cache, key, fresh) {
  const hit = await cache.match(key);
  if (hit && age(hit) < fresh) return { copy: hit, reached: true };
  try {
    const response = await fetch(key, { credentials: "same-origin" });
    if (isPage(response, key)) {
      await cache.put(key, response.clone());
      return { copy: response, reached: true };
    }
    return { copy: hit || null, reached: !response.redirected };
  } catch (error) {
    return { copy: hit || null, reached: false };
  }
}

// The cards a list names: its items' links (class="task-name" href="/customers/N").
function cardsIn(html) {
  return [...html.matchAll(/class="task-name" href="(\/customers\/\d+)"/g)].map((m) => m[1]);
}

async function keepToday(data) {
  const cache = await caches.open(PAGES);
  const keep = new Set(data.cards.filter((p) => CARD.test(p)));
  const lists = (Array.isArray(data.lists) ? data.lists : [])
    .filter((p) => keyOf(new URL(p, self.location.origin)) === p);
  for (const list of lists) {
    const { copy } = await kept(cache, list, LIST_FRESH);
    if (copy) cardsIn(await copy.clone().text()).forEach((p) => keep.add(p));
  }
  // Today's customers: their cards may be kept; other days' copies are dropped.
  await cache.put(ALLOWED, new Response(JSON.stringify([...keep]), { headers: { "Content-Type": "application/json" } }));
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (CARD.test(path) && !keep.has(path)) await cache.delete(request);
  }
  // One at a time: the salon's server is small, and she is using the page meanwhile.
  for (const path of keep) {
    const hit = await cache.match(path);
    if (hit && age(hit) < CARD_FRESH) continue;
    if (!(await kept(cache, path, CARD_FRESH)).reached) break; // offline or signed out: stop
  }
}

let keeping = Promise.resolve();

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "today" && Array.isArray(data.cards)) {
    keeping = keeping.then(() => keepToday(data)).catch(() => {});
    event.waitUntil(keeping);
  }
  if (data.type === "refresh" && Array.isArray(data.paths)) {
    // What she logged has reached the server: the kept lists say so too.
    keeping = keeping.then(async () => {
      const cache = await caches.open(PAGES);
      for (const path of new Set(data.paths)) {
        const key = keyOf(new URL(path, self.location.origin));
        if (key !== null && LIST.test(new URL(path, self.location.origin).pathname)) await kept(cache, key, 0);
      }
    }).catch(() => {});
    event.waitUntil(keeping);
  }
  if (data.type === "sign-out") event.waitUntil(caches.delete(PAGES));
  // A page that this worker did not claim when it activated (the claim can pass over a page
  // still settling after its load, about once in twenty first visits) asks for it.
  if (data.type === "claim") event.waitUntil(self.clients.claim());
});
