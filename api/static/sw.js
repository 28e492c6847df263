// The kiosk's service worker (served at /sw.js, so its scope is the app root).
//
// It keeps a copy of the kiosk page, its script and its styles. Every request still goes to the
// network first, so a running server always serves the current files; only when the server cannot
// be reached is the kept copy used. The page then starts, cannot load its settings, and shows its
// own retry card instead of the browser's error page. API calls are never cached.
"use strict";

const CACHE = "policy-assistant-shell-v1";
const SCOPE = self.registration.scope;
const PAGE = new URL("./", SCOPE).href;
const SHELL = [PAGE, ...["static/app.css", "static/common.js", "static/kiosk.js"].map((p) => new URL(p, SCOPE).href)];

const OFFLINE_HTML = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>暂时连接不上服务</title></head>
<body style="font-family: sans-serif; margin: 2rem; line-height: 1.6">
<h1>暂时连接不上服务</h1><p>请稍后刷新本页，或咨询窗口工作人员。</p><p><a href="">重新载入</a></p>
</body></html>`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("policy-assistant-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** Network first; a good answer refreshes the kept copy, a failure falls back to it. */
async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const bare = url.origin + url.pathname;
  if (request.mode === "navigate") {
    if (bare === PAGE) {
      // The kiosk, with or without ?embed=1 (the widget's frame): one kept copy serves both.
      event.respondWith(networkFirst(request, PAGE));
    } else {
      event.respondWith(
        fetch(request).catch(
          () => new Response(OFFLINE_HTML, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } }),
        ),
      );
    }
    return;
  }
  if (SHELL.includes(bare)) event.respondWith(networkFirst(request, bare));
});
