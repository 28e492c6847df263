// Staff precedent search: filters, results grouped by document, a full-text reader, copyable citations.
// The URL holds the whole state (?q=&doc=&heading=&k=&open=&s=&e=) so a link can be shared.
import {
  clear,
  copyText,
  documentText,
  documentTitle,
  el,
  fetchDocument,
  friendlyError,
  headingLabel,
  locateSpan,
  markedText,
  pageLabel,
  requestJSON,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const form = $("search-form");
const qInput = $("q");
const docSelect = $("doc");
const headingInput = $("heading");
const kSelect = $("k");
const statusBox = $("status");
const results = $("results");
const reader = $("reader");
const readerTitle = $("reader-title");
const readerMeta = $("reader-meta");
const readerBody = $("reader-body");
const toast = $("toast");

let lastHits = [];
let lastTerms = [];
let openHit = null; // {documentId, title, heading, page, start, end, text}
let searchSeq = 0;
let readerSeq = 0;

// ------------------------------------------------------------------ highlighting -------------

const STOP = new Set(["哪些", "什么", "怎么", "如何", "多少", "是否", "可以", "有关", "关于", "我们", "这个", "那个", "一个", "的是", "没有", "还有", "以及", "或者", "进行", "规定", "有哪"]);
const SPLIT = /[\s,，。、;；:：“”‘’"'!！?？()（）[\]【】《》<>/\\|]+/;

/** Query segments used to highlight matches (CJK has no spaces, so substrings of them match). */
export function queryTerms(query) {
  return [...new Set((query || "").split(SPLIT).filter((t) => t.length >= 2))];
}

const FIGURE = new RegExp(
  [
    "\\d{4}\\s*年(?:\\s*\\d{1,2}\\s*月(?:\\s*\\d{1,2}\\s*日)?)?",
    "\\d{1,2}\\s*月\\s*\\d{1,2}\\s*日",
    "\\d+(?:[.,]\\d+)*\\s*(?:%|％|‰|万平方米|平方米|平方公里|平方千米|万亩|公顷|亩|亿美元|万美元|美元|亿元|万元|千元|元|万吨|吨|宗|个|户|套|项|家|件|人|天|个月|年|月|日)?",
    "[零〇一二三四五六七八九十百千两]+(?:万亩|亩|亿元|万元|个月)",
  ].join("|"),
  "g",
);

/** Per-character flags: 1 = matches a query term, 2 = a figure (amount, area, date). */
function flagsFor(text, terms) {
  const flags = new Uint8Array(text.length);
  const lower = text.toLowerCase();
  const segs = terms.map((t) => t.toLowerCase());
  for (let i = 0; i < text.length; ) {
    let best = 0;
    for (const seg of segs) {
      for (let len = Math.min(seg.length, text.length - i); len >= 2 && len > best; len -= 1) {
        if (seg.includes(lower.substr(i, len))) {
          best = len;
          break;
        }
      }
    }
    if (best >= 2 && !STOP.has(text.substr(i, best))) {
      flags.fill(1, i, i + best);
      i += best;
    } else {
      i += 1;
    }
  }
  for (const m of text.matchAll(FIGURE)) {
    for (let j = m.index; j < m.index + m[0].length; j += 1) flags[j] |= 2;
  }
  return flags;
}

/** Text with query terms in <mark class="term"> and figures in <span class="fig">, as text nodes. */
function highlighted(text, terms) {
  const flags = flagsFor(text, terms);
  const frag = document.createDocumentFragment();
  let i = 0;
  while (i < text.length) {
    const f = flags[i];
    let j = i + 1;
    while (j < text.length && flags[j] === f) j += 1;
    const part = text.slice(i, j);
    if (f === 0) frag.append(document.createTextNode(part));
    else if (f === 1) frag.append(el("mark", { class: "term" }, part));
    else if (f === 2) frag.append(el("span", { class: "fig" }, part));
    else frag.append(el("mark", { class: "term fig" }, part));
    i = j;
  }
  return frag;
}

// ------------------------------------------------------------------ citations ----------------

/** The sentence of `text` that best matches the query (or the first one), for a citation quote. */
function bestSentence(text, terms) {
  const sentences = (text.match(/[^。！？；\n]+[。！？；]?/g) || [text]).map((s) => s.trim()).filter(Boolean);
  if (!sentences.length) return text.trim();
  let best = sentences[0];
  let bestScore = -1;
  for (const s of sentences) {
    const score = flagsFor(s, terms).reduce((n, f) => n + (f & 1), 0);
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

function trimQuote(quote, max = 160) {
  const q = quote.replace(/\s+/g, " ").trim();
  return q.length > max ? `${q.slice(0, max)}……` : q;
}

/** "《标题》，章节，第N页：“引文”" */
export function formatCitation({ title, heading, page, quote }) {
  const parts = [`《${title || "未命名文件"}》`];
  const h = headingLabel(heading).replaceAll(" › ", "／");
  if (h) parts.push(h);
  if (pageLabel(page)) parts.push(`第${page}页`);
  return `${parts.join("，")}：“${trimQuote(quote)}”`;
}

function selectionWithin(node) {
  const sel = window.getSelection();
  if (!sel || sel.isCollapsed || !sel.rangeCount) return "";
  const range = sel.getRangeAt(0);
  return node.contains(range.commonAncestorContainer) ? sel.toString().trim() : "";
}

let toastTimer = 0;
function showToast(message) {
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 4000);
}

async function copyCitation(hit, container) {
  const quote = (container && selectionWithin(container)) || bestSentence(hit.text, lastTerms);
  const text = formatCitation({ title: hit.title, heading: hit.heading, page: hit.page, quote });
  const ok = await copyText(text);
  showToast(ok ? `已复制引用：${text}` : `复制失败，请手动复制：${text}`);
  document.body.dataset.lastCitation = text;
}

// ------------------------------------------------------------------ URL state ----------------

function stateFromUrl() {
  const p = new URLSearchParams(location.search);
  return {
    q: p.get("q") || "",
    doc: p.get("doc") || "",
    heading: p.get("heading") || "",
    k: p.get("k") || "20",
    open: p.get("open") || "",
    s: p.has("s") ? Number(p.get("s")) : null,
    e: p.has("e") ? Number(p.get("e")) : null,
  };
}

function writeUrl(state, push) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.doc) p.set("doc", state.doc);
  if (state.heading) p.set("heading", state.heading);
  if (state.k && state.k !== "20") p.set("k", state.k);
  if (state.open) {
    p.set("open", state.open);
    if (Number.isInteger(state.s)) p.set("s", String(state.s));
    if (Number.isInteger(state.e)) p.set("e", String(state.e));
  }
  const url = `${location.pathname}${p.toString() ? `?${p}` : ""}`;
  if (url === `${location.pathname}${location.search}`) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function formState() {
  return { q: qInput.value.trim(), doc: docSelect.value, heading: headingInput.value.trim(), k: kSelect.value };
}

function currentUrlState() {
  const st = formState();
  if (openHit) Object.assign(st, { open: openHit.documentId, s: openHit.start, e: openHit.end });
  return st;
}

// ------------------------------------------------------------------ search -------------------

function hitFromApi(h) {
  const s = h.source || {};
  return {
    documentId: s.document_id,
    title: s.title || "",
    heading: s.heading || [],
    page: s.page ?? null,
    start: s.start,
    end: s.end,
    text: h.text || "",
    score: h.score,
  };
}

function hitCard(hit) {
  const meta = el("div", { class: "hit-meta" },
    headingLabel(hit.heading) ? el("span", { class: "heading" }, headingLabel(hit.heading)) : null,
    pageLabel(hit.page) ? el("span", { class: "page" }, pageLabel(hit.page)) : null,
    el("span", { class: "rank" }, `第 ${hit.rank} 条`),
  );
  const textNode = el("p", { class: "hit-text" }, highlighted(hit.text, lastTerms));
  const card = el("article", {
    class: "hit",
    tabindex: "0",
    dataset: { doc: hit.documentId, start: String(hit.start), end: String(hit.end) },
    "aria-label": `${hit.title} ${headingLabel(hit.heading)}`,
  }, meta, textNode,
  el("div", { class: "hit-actions" },
    el("button", { type: "button", class: "btn read", onclick: () => openReader(hit, card) }, "阅读全文"),
    el("button", { type: "button", class: "btn copy", onclick: () => copyCitation(hit, textNode) }, "复制引用"),
  ));
  card.addEventListener("keydown", (e) => {
    if (e.target !== card) return;
    if (e.key === "Enter") {
      e.preventDefault();
      openReader(hit, card);
    } else if (e.key === "c" || e.key === "C") {
      e.preventDefault();
      copyCitation(hit, textNode);
    }
  });
  card.hit = hit;
  return card;
}

function renderResults(hits) {
  clear(results);
  if (!hits.length) {
    results.append(el("div", { class: "empty" }, "没有找到相关段落。可以换个关键词，或去掉筛选条件再试。"));
    return;
  }
  const groups = new Map();
  for (const hit of hits) {
    if (!groups.has(hit.documentId)) groups.set(hit.documentId, { title: hit.title, hits: [] });
    groups.get(hit.documentId).hits.push(hit);
  }
  for (const [docId, g] of groups) {
    const head = el("div", { class: "group-head" },
      el("h2", {}, g.title || "未命名文件"),
      el("span", { class: "count" }, `${g.hits.length} 条`),
      docSelect.value === docId
        ? null
        : el("button", { type: "button", class: "btn only", onclick: () => {
          docSelect.value = docId;
          submitSearch(true);
        } }, "只看此文件"),
    );
    results.append(el("section", { class: "group", dataset: { doc: docId } }, head, g.hits.map(hitCard)));
  }
}

async function runSearch() {
  const st = formState();
  const seq = ++searchSeq;
  lastTerms = queryTerms(st.q);
  if (!st.q) {
    clear(results);
    statusBox.textContent = "输入关键词后按 Enter 检索。";
    return;
  }
  statusBox.textContent = "正在检索……";
  const filters = {};
  if (st.doc) filters.document_ids = [st.doc];
  if (st.heading) filters.heading = st.heading;
  const body = { query: st.q, top_k: Number(st.k) || 20 };
  if (Object.keys(filters).length) body.filters = filters;
  try {
    const data = await requestJSON("api/search", { method: "POST", body, timeout: 20000 });
    if (seq !== searchSeq) return;
    lastHits = (data.hits || []).map(hitFromApi);
    lastHits.forEach((h, i) => {
      h.rank = i + 1;
    });
    const docs = new Set(lastHits.map((h) => h.documentId)).size;
    statusBox.textContent = lastHits.length ? `共 ${lastHits.length} 条结果，来自 ${docs} 份文件。` : "";
    renderResults(lastHits);
  } catch (err) {
    if (seq !== searchSeq) return;
    clear(statusBox);
    clear(results);
    results.append(
      el("div", { class: "notice-error", role: "alert" },
        el("p", {}, friendlyError(err)),
        el("button", { type: "button", class: "btn primary", onclick: runSearch }, "重试"),
      ),
    );
  }
}

function submitSearch(push) {
  closeReader(false);
  writeUrl(formState(), push);
  return runSearch();
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  submitSearch(true);
});
docSelect.addEventListener("change", () => {
  if (qInput.value.trim()) submitSearch(true);
});

// ------------------------------------------------------------------ reader -------------------

async function openReader(hit, card) {
  const seq = ++readerSeq;
  openHit = hit;
  for (const c of results.querySelectorAll(".hit.open")) c.classList.remove("open");
  if (card) card.classList.add("open");
  reader.hidden = false;
  readerTitle.textContent = hit.title || "未命名文件";
  clear(readerMeta);
  if (headingLabel(hit.heading)) readerMeta.append(el("span", {}, `章节：${headingLabel(hit.heading)}`));
  if (pageLabel(hit.page)) readerMeta.append(el("span", {}, pageLabel(hit.page)));
  clear(readerBody);
  readerBody.append(el("p", { class: "empty" }, "正在打开全文……"));
  writeUrl(currentUrlState(), false);
  try {
    const doc = await fetchDocument(hit.documentId);
    if (seq !== readerSeq) return;
    const text = documentText(doc);
    if (!hit.title) {
      hit.title = documentTitle(doc, "");
      readerTitle.textContent = hit.title || "未命名文件";
    }
    const [s, e] = locateSpan(text, hit.start, hit.end, hit.text);
    const { fragment, mark } = markedText(text, s, e);
    clear(readerBody);
    readerBody.append(fragment);
    if (mark) {
      mark.id = "reader-passage";
      requestAnimationFrame(() => mark.scrollIntoView({ block: "center" }));
    }
  } catch (err) {
    if (seq !== readerSeq) return;
    clear(readerBody);
    readerBody.append(
      el("div", { class: "notice-error", role: "alert" },
        el("p", {}, `全文暂时打不开。${friendlyError(err)}`),
        el("button", { type: "button", class: "btn primary", onclick: () => openReader(hit, card) }, "重试"),
      ),
    );
  }
}

function closeReader(updateUrl = true) {
  if (reader.hidden) return;
  readerSeq += 1;
  reader.hidden = true;
  clear(readerBody);
  const was = openHit;
  openHit = null;
  for (const c of results.querySelectorAll(".hit.open")) c.classList.remove("open");
  if (updateUrl) writeUrl(currentUrlState(), false);
  if (was) {
    const card = [...results.querySelectorAll(".hit")].find((c) => c.hit === was);
    if (card) card.focus();
  }
}

$("reader-close").addEventListener("click", () => closeReader());
$("reader-copy").addEventListener("click", () => {
  if (openHit) copyCitation(openHit, readerBody);
});

// ------------------------------------------------------------------ keyboard -----------------

function typing(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "Escape") {
    if (!reader.hidden) {
      e.preventDefault();
      closeReader();
    }
    return;
  }
  if (typing(e.target)) {
    if (e.key === "ArrowDown" && e.target === qInput) {
      const first = results.querySelector(".hit");
      if (first) {
        e.preventDefault();
        first.focus();
      }
    }
    return;
  }
  if (e.key === "/") {
    e.preventDefault();
    qInput.focus();
    qInput.select();
    return;
  }
  const cards = [...results.querySelectorAll(".hit")];
  if (!cards.length) return;
  const i = cards.indexOf(document.activeElement);
  if (e.key === "ArrowDown" || e.key === "j") {
    e.preventDefault();
    cards[Math.min(cards.length - 1, i + 1)].focus();
  } else if (e.key === "ArrowUp" || e.key === "k") {
    e.preventDefault();
    if (i <= 0) qInput.focus();
    else cards[i - 1].focus();
  }
});

// ------------------------------------------------------------------ start --------------------

async function loadDocuments() {
  try {
    const data = await requestJSON("api/documents", { timeout: 15000 });
    const docs = Array.isArray(data) ? data : data.documents || [];
    const keep = docSelect.value || stateFromUrl().doc;
    for (const d of docs) {
      docSelect.append(el("option", { value: d.id }, d.title || d.id));
    }
    if (keep) docSelect.value = keep;
  } catch (err) {
    statusBox.textContent = `文件列表暂时无法加载（${friendlyError(err)}）`;
  }
}

async function restore() {
  const st = stateFromUrl();
  qInput.value = st.q;
  headingInput.value = st.heading;
  kSelect.value = ["10", "20", "50"].includes(st.k) ? st.k : "20";
  if (st.doc && ![...docSelect.options].some((o) => o.value === st.doc)) {
    docSelect.append(el("option", { value: st.doc }, st.doc));
  }
  docSelect.value = st.doc;
  closeReader(false);
  await runSearch();
  if (st.open) {
    const hit = lastHits.find((h) => h.documentId === st.open && (st.s === null || h.start === st.s))
      || { documentId: st.open, title: "", heading: [], page: null, start: st.s, end: st.e, text: "" };
    const card = [...results.querySelectorAll(".hit")].find((c) => c.hit === hit);
    openReader(hit, card);
  }
}

window.addEventListener("popstate", restore);

(async () => {
  await loadDocuments();
  await restore();
  if (!qInput.value) qInput.focus();
  document.body.dataset.ready = "1";
})();
