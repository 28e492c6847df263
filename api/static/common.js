// Shared helpers for the kiosk and staff pages: API calls, SSE streaming, safe DOM building.
//
// Every piece of text that comes from the server (answers, document text, titles) goes into the
// page through text nodes, never through innerHTML: a document containing "<script>" shows it.

/** A failed API call, with a kind the pages turn into a friendly message. */
export class ApiError extends Error {
  /**
   * @param {string} message  detail (server's `error` field when there is one)
   * @param {"network"|"timeout"|"http"|"aborted"|"protocol"} kind
   * @param {number} [status]
   */
  constructor(message, kind, status = 0) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
  }
}

// ----- access key -----------------------------------------------------------------------------
// With PA_OPEN_API_KEY set, asking and searching need a bearer key. A kiosk or staff browser is
// enrolled once: either a staff member types the key into the dialog shown on the first 401, or the
// page is opened as `.../#key=<key>` (a fragment never reaches a server or a log). The key is kept
// in this browser's localStorage and the fragment is removed from the address bar at once.

const KEY_STORE = "policy-assistant.access-key";

function storedKey() {
  try {
    return localStorage.getItem(KEY_STORE) || "";
  } catch {
    return ""; // storage blocked (private mode, sandboxed frame): run without a key
  }
}

/** Keep (or with "" forget) the access key for this browser. */
export function saveAccessKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORE, key);
    else localStorage.removeItem(KEY_STORE);
    return true;
  } catch {
    return false;
  }
}

(function enrolFromFragment() {
  const m = /(?:^#|&)key=([^&]*)/.exec(location.hash);
  if (!m) return;
  saveAccessKey(decodeURIComponent(m[1]).trim());
  const rest = location.hash.replace(/(^#|&)key=[^&]*/, "$1").replace(/^#&/, "#").replace(/^#$/, "");
  history.replaceState(history.state, "", location.pathname + location.search + rest);
})();

function headers(extra) {
  const key = storedKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

let keyDialog = null;

/** Ask for the access key (once per page): shown when the server answers 401. */
function askForKey() {
  if (keyDialog) {
    if (!keyDialog.open) keyDialog.showModal();
    return;
  }
  const input = el("input", { type: "password", class: "key-input", autocomplete: "off", "aria-label": "访问密钥" });
  const note = el("p", { class: "key-note" }, storedKey() ? "已保存的密钥无效，请重新输入。" : "本服务需要访问密钥。请工作人员输入一次，本机会记住它。");
  const form = el(
    "form",
    { method: "dialog", class: "key-form" },
    el("h2", {}, "此终端尚未授权"),
    note,
    input,
    el(
      "div",
      { class: "key-actions" },
      el("button", { type: "button", class: "btn", onclick: () => keyDialog.close() }, "取消"),
      el("button", { type: "submit", class: "btn primary" }, "保存并重新载入"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) return input.focus();
    saveAccessKey(key);
    location.reload();
  });
  keyDialog = el("dialog", { class: "key-dialog", "aria-label": "输入访问密钥" }, form);
  document.body.append(keyDialog);
  keyDialog.showModal();
  input.focus();
}

/** A URL relative to the page, so the app also works behind a path prefix. */
export function apiUrl(path) {
  return new URL(path, document.baseURI).toString();
}

async function errorFromResponse(resp, { keyDialog = true } = {}) {
  if (resp.status === 401 && keyDialog) askForKey();
  let detail = "";
  try {
    const body = await resp.json();
    detail = typeof body.error === "string" ? body.error : typeof body.detail === "string" ? body.detail : "";
  } catch {
    /* not JSON */
  }
  return new ApiError(detail || `HTTP ${resp.status}`, "http", resp.status);
}

function withTimeout(signal, ms) {
  const ctrl = new AbortController();
  let timedOut = false;
  let timer = 0;
  const arm = (delay) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, delay);
  };
  arm(ms);
  const onAbort = () => ctrl.abort();
  if (signal) {
    if (signal.aborted) ctrl.abort();
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    signal: ctrl.signal,
    timedOut: () => timedOut,
    restart: (delay = ms) => arm(delay),
    clear() {
      clearTimeout(timer);
      if (signal) signal.removeEventListener("abort", onAbort);
    },
  };
}

function translateFetchError(err, t) {
  if (err instanceof ApiError) return err;
  if (t.timedOut()) return new ApiError("timeout", "timeout");
  if (err && err.name === "AbortError") return new ApiError("aborted", "aborted");
  return new ApiError(String((err && err.message) || err), "network");
}

/**
 * GET, POST or PATCH JSON with a timeout; throws ApiError.
 * `auth`: a bearer key to send instead of this browser's access key (the staff page's admin key);
 * a 401 then does not open the access-key dialog.
 */
export async function requestJSON(path, { method = "GET", body, signal, timeout = 20000, auth } = {}) {
  const t = withTimeout(signal, timeout);
  const base = body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" };
  try {
    const resp = await fetch(apiUrl(path), {
      method,
      headers: auth === undefined ? headers(base) : { ...base, Authorization: `Bearer ${auth}` },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: t.signal,
    });
    if (!resp.ok) throw await errorFromResponse(resp, { keyDialog: auth === undefined });
    const data = await resp.json();
    if (data && data.ok === false) throw new ApiError(data.error || "error", "http", data.status || resp.status);
    return data;
  } catch (err) {
    throw translateFetchError(err, t);
  } finally {
    t.clear();
  }
}

/** GET a file (an image, a CSV) as a Blob, with this browser's access key or `auth`; throws ApiError. */
export async function requestBlob(path, { signal, timeout = 20000, auth } = {}) {
  const t = withTimeout(signal, timeout);
  try {
    const resp = await fetch(apiUrl(path), {
      headers: auth === undefined ? headers({}) : { Authorization: `Bearer ${auth}` },
      signal: t.signal,
    });
    if (!resp.ok) throw await errorFromResponse(resp, { keyDialog: auth === undefined });
    return await resp.blob();
  } catch (err) {
    throw translateFetchError(err, t);
  } finally {
    t.clear();
  }
}

/** A Blob as a data: URL (the pages' CSP allows data: images, not blob: ones). */
export function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Parse one SSE block ("event: x\ndata: {...}") into {event, data}. */
function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length && event === "message") return null;
  const raw = data.join("\n");
  let parsed = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    /* plain text payload */
  }
  return { event, data: parsed };
}

/**
 * POST `body` and stream the Server-Sent Events back (EventSource cannot POST).
 * Calls onEvent({event, data}) per event. A server that answers with plain JSON instead
 * (no streaming) is passed through as one {event: "json", data} event.
 * `idleTimeout`: abort when no byte arrives for this long.
 */
export async function streamSSE(path, body, { signal, onEvent, idleTimeout = 45000, firstByteTimeout = 60000 } = {}) {
  const t = withTimeout(signal, firstByteTimeout);
  try {
    const resp = await fetch(apiUrl(path), {
      method: "POST",
      headers: headers({ Accept: "text/event-stream", "Content-Type": "application/json" }),
      body: JSON.stringify(body),
      signal: t.signal,
    });
    if (!resp.ok) throw await errorFromResponse(resp);
    const type = resp.headers.get("content-type") || "";
    if (!type.includes("text/event-stream")) {
      const data = await resp.json();
      if (data && data.ok === false) throw new ApiError(data.error || "error", "http", data.status || resp.status);
      onEvent({ event: "json", data });
      return;
    }
    if (!resp.body) throw new ApiError("no body", "protocol");
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    t.restart(idleTimeout);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      t.restart(idleTimeout);
      buffer += decoder.decode(value, { stream: true });
      let m;
      while ((m = /\r?\n\r?\n/.exec(buffer))) {
        const block = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        const ev = parseBlock(block);
        if (ev) onEvent(ev);
      }
    }
    buffer += decoder.decode();
    if (buffer.trim()) {
      const ev = parseBlock(buffer);
      if (ev) onEvent(ev);
    }
  } catch (err) {
    throw translateFetchError(err, t);
  } finally {
    t.clear();
  }
}

/** A friendly Chinese sentence for an error; never a stack trace. */
export function friendlyError(err) {
  const kind = err && err.kind;
  if (kind === "network") return "暂时连接不上服务，请稍后点击“重试”，或咨询窗口工作人员。";
  if (kind === "timeout") return "服务响应超时，请点击“重试”，或咨询窗口工作人员。";
  if (kind === "http") {
    if (err.status === 503) return "系统正在准备资料，请稍等片刻后点击“重试”。";
    if (err.status === 429) return "提问太频繁了，请稍等一会儿再试。";
    if (err.status === 401) return "此终端尚未获得访问授权，请联系窗口工作人员。";
    if (err.status === 413 || err.status === 422 || err.status === 400) {
      return `问题无法处理：${err.message}`;
    }
    if (err.status >= 500) return "服务暂时出了点问题，请点击“重试”，或咨询窗口工作人员。";
    return `请求未成功：${err.message}`;
  }
  return "出了点问题，请点击“重试”，或咨询窗口工作人员。";
}

/**
 * Build an element. Children that are strings become text nodes (never parsed as HTML).
 * attrs: class, dataset (object), on<event> (function), text, and other attributes as strings.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** "第 3 页" or "" */
export function pageLabel(page) {
  return page === null || page === undefined || page === "" ? "" : `第 ${page} 页`;
}

/** Heading path (list or string) as "一 > 二" */
export function headingLabel(heading) {
  if (Array.isArray(heading)) return heading.filter(Boolean).join(" › ");
  return heading ? String(heading) : "";
}

// ----- document facts -------------------------------------------------------------------------
// Whose rule a source is and when: {date, issuer, jurisdiction, kind, status, replaced_by}, each a
// string or null. Citations, related passages and search hits carry it as `document`; document
// summaries (GET /api/documents) as `facts`.

/** The facts object of a citation, hit, related passage or document summary (null when absent). */
export function factsOf(item) {
  if (!item || typeof item !== "object") return null;
  for (const f of [item.facts, item.document]) {
    if (f && typeof f === "object" && !Array.isArray(f) && typeof f.text !== "string") return f;
  }
  return null;
}

/** "2022" → 2022年, "2022-06" → 2022年6月, "2019-08-26" → 2019年8月26日; null → 日期不详. */
export function dateLabel(date) {
  const raw = typeof date === "string" ? date.trim() : "";
  if (!raw) return "日期不详";
  const m = /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$/.exec(raw);
  if (!m) return raw;
  return `${m[1]}年${m[2] ? `${Number(m[2])}月` : ""}${m[2] && m[3] ? `${Number(m[3])}日` : ""}`;
}

function factValue(v) {
  return typeof v === "string" && v.trim() ? v.trim() : "";
}

/**
 * The facts as short labelled parts, in display order: date (or 日期不详), issuer (left out when
 * unknown), jurisdiction (or 适用地域不详), kind (only with `kind: true`), and 已被新版本取代.
 */
export function factsParts(facts, { kind = false } = {}) {
  const f = facts || {};
  const parts = [{ key: "date", text: dateLabel(f.date), unknown: !factValue(f.date) }];
  if (factValue(f.issuer)) parts.push({ key: "issuer", text: factValue(f.issuer) });
  parts.push({ key: "jurisdiction", text: factValue(f.jurisdiction) || "适用地域不详", unknown: !factValue(f.jurisdiction) });
  if (kind && factValue(f.kind)) parts.push({ key: "kind", text: factValue(f.kind) });
  if (f.status === "superseded") parts.push({ key: "superseded", text: "已被新版本取代" });
  return parts;
}

/** "2022年 · 平湖市自然资源和规划局 · 平湖市" */
export function factsText(facts, options) {
  return factsParts(facts, options).map((p) => p.text).join(" · ");
}

/** The facts line as an element (text nodes only): <span class="facts"><span class="f-date">… */
export function factsLine(facts, { tag = "span", className = "", kind = false } = {}) {
  const node = el(tag, { class: `facts${className ? ` ${className}` : ""}` });
  fillFacts(node, facts, { kind });
  return node;
}

/** Replace the content of a facts line (after an edit). */
export function fillFacts(node, facts, { kind = false } = {}) {
  clear(node);
  const f = facts || {};
  node.dataset.date = factValue(f.date);
  node.dataset.status = f.status === "superseded" ? "superseded" : "current";
  factsParts(f, { kind }).forEach((p, i) => {
    if (i) node.append(el("span", { class: "f-sep", "aria-hidden": "true" }, " · "));
    node.append(el("span", { class: `f-${p.key}${p.unknown ? " f-unknown" : ""}` }, p.text));
  });
  return node;
}

/** The document's cleaned text from a GET /api/documents/{id} body, whatever it is called. */
export function documentText(doc) {
  if (!doc) return "";
  for (const key of ["text", "content", "clean_text"]) if (typeof doc[key] === "string") return doc[key];
  if (doc.document && typeof doc.document.text === "string") return doc.document.text;
  return "";
}

export function documentTitle(doc, fallback = "") {
  if (!doc) return fallback;
  return doc.title || (doc.document && doc.document.title) || (doc.metadata && doc.metadata.title) || fallback;
}

const docCache = new Map();

/** GET /api/documents/{id}, cached for the page's life. */
export function fetchDocument(id, { signal } = {}) {
  if (!docCache.has(id)) {
    const p = requestJSON(`api/documents/${encodeURIComponent(id)}`, { signal, timeout: 20000 });
    docCache.set(id, p);
    p.catch(() => docCache.delete(id));
  }
  return docCache.get(id);
}

export function forgetDocuments() {
  docCache.clear();
}

/**
 * Where the cited passage sits in `text`: [start, end) from the offsets, but if the quote is
 * not exactly there and appears nearby, the quote's own position.
 */
export function locateSpan(text, start, end, quote) {
  const s = Number.isInteger(start) ? Math.max(0, Math.min(start, text.length)) : -1;
  const e = Number.isInteger(end) ? Math.max(s, Math.min(end, text.length)) : -1;
  const q = (quote || "").trim();
  if (s >= 0 && e > s) {
    if (!q || text.slice(s, e).includes(q.slice(0, Math.min(q.length, 20)))) return [s, e];
  }
  if (q) {
    const from = Math.max(0, (s >= 0 ? s : 0) - 2000);
    let i = text.indexOf(q, from);
    if (i < 0) i = text.indexOf(q);
    if (i >= 0) return [i, i + q.length];
  }
  return s >= 0 && e > s ? [s, e] : [0, 0];
}

/** A window of text around [s, e), widened to line boundaries, at most ~`radius` chars each side. */
export function contextWindow(text, s, e, radius = 260) {
  let a = Math.max(0, s - radius);
  let b = Math.min(text.length, e + radius);
  const nlBefore = text.lastIndexOf("\n", s - 1);
  if (nlBefore >= a) a = nlBefore + 1;
  else if (a > 0) {
    const stop = text.slice(a, s).search(/[。！？；]/);
    if (stop >= 0) a = a + stop + 1;
  }
  const nlAfter = text.indexOf("\n", e);
  if (nlAfter >= 0 && nlAfter <= b) b = nlAfter;
  else if (b < text.length) {
    const tail = text.slice(e, b);
    const stops = [...tail.matchAll(/[。！？；]/g)];
    if (stops.length) b = e + stops[stops.length - 1].index + 1;
  }
  return [a, b];
}

/** Text with [s, e) wrapped in <mark class="cited">; returns {fragment, mark}. */
export function markedText(text, s, e, { from = 0, to = text.length } = {}) {
  const frag = document.createDocumentFragment();
  let mark = null;
  if (from > 0) frag.append(el("span", { class: "ellipsis", "aria-hidden": "true" }, "……"));
  if (e > s && s >= from && e <= to) {
    frag.append(document.createTextNode(text.slice(from, s)));
    mark = el("mark", { class: "cited" }, text.slice(s, e));
    frag.append(mark);
    frag.append(document.createTextNode(text.slice(e, to)));
  } else {
    frag.append(document.createTextNode(text.slice(from, to)));
  }
  if (to < text.length) frag.append(el("span", { class: "ellipsis", "aria-hidden": "true" }, "……"));
  return { fragment: frag, mark };
}

/** Copy text to the clipboard; falls back to a hidden textarea where the async API is missing. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}
