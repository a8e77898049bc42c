// Keqing service worker.
// - The app shell is precached under a versioned name; older shells are removed on activation.
// - Today's checklist and today's customers' cards: network first, the last copy when offline.
//   Nothing else personal is kept, and those pages are deleted on sign-out.
// - Any other page offline: the offline page.
const VERSION = "kq-shell-v8";
const PAGES = "kq-pages-v1";
const TODAY = "/tasks/today";
const ALLOWED = "/__today-customers";
const SHELL = [
  "/offline",
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/outbox.js",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("kq-shell-") && k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

async function allowedCards() {
  const cache = await caches.open(PAGES);
  const hit = await cache.match(ALLOWED);
  return hit ? new Set(await hit.json()) : new Set();
}

async function keepable(path) {
  if (path === TODAY) return true;
  if (!/^\/customers\/\d+$/.test(path)) return false;
  return (await allowedCards()).has(path);
}

async function networkFirst(request, path) {
  const cache = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    const signedIn = response.ok && !response.redirected && new URL(response.url).pathname === path;
    if (signedIn) await cache.put(path, response.clone());
    return response;
  } catch (error) {
    return (await cache.match(path)) || (await caches.match("/offline"));
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith((async () => {
      if (!url.search && (await keepable(url.pathname))) return networkFirst(request, url.pathname);
      try {
        return await fetch(request);
      } catch (error) {
        return caches.match("/offline");
      }
    })());
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(caches.match(request, { ignoreSearch: true }).then((hit) => hit || fetch(request)));
  }
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "today" && Array.isArray(data.cards)) {
    // Today's customers: their cards may be kept; yesterday's copies are dropped.
    event.waitUntil((async () => {
      const cache = await caches.open(PAGES);
      const keep = new Set(data.cards.filter((p) => /^\/customers\/\d+$/.test(p)));
      await cache.put(ALLOWED, new Response(JSON.stringify([...keep]), { headers: { "Content-Type": "application/json" } }));
      for (const request of await cache.keys()) {
        const path = new URL(request.url).pathname;
        if (path.startsWith("/customers/") && !keep.has(path)) await cache.delete(request);
      }
    })());
  }
  if (data.type === "sign-out") event.waitUntil(caches.delete(PAGES));
});
