// Staff precedent search: filters, results grouped by document, a full-text reader, copyable citations.
// The URL holds the whole state (?q=&doc=&heading=&k=&jur=&kind=&from=&to=&status=&all=&open=&s=&e=, or
// ?view=cases&measure=&place=&year=) so a link can be shared. Search asks the server for each hit's
// match (which query terms it holds, the share of the query, its best sentence): weak matches are
// left out (all=1 shows them), each hit shows a relevance cue, and the reader marks the sentence.
// The 先例卡片 view lists the cases the documents tell (GET /api/precedents). With no query the page lists the documents with their facts (date, issuer,
// jurisdiction, kind, status); an admin (PA_API_KEY, kept in sessionStorage) corrects them in the reader.
import {
  ApiError,
  clear,
  copyText,
  dateLabel,
  documentText,
  documentTitle,
  el,
  factsLine,
  factsOf,
  factsText,
  fetchDocument,
  fillFacts,
  forgetDocuments,
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
const jurSelect = $("jur");
const kindSelect = $("kind");
const dateFrom = $("date-from");
const dateTo = $("date-to");
const statusSelect = $("doc-status");
const statusBox = $("status");
const results = $("results");
const reader = $("reader");
const readerTitle = $("reader-title");
const readerMeta = $("reader-meta");
const readerFacts = $("reader-facts");
const factsEdit = $("facts-edit");
const factsForm = $("facts-form");
const readerBody = $("reader-body");
const toast = $("toast");
const tabSearch = $("tab-search");
const tabCases = $("tab-cases");
const searchView = $("search-view");
const casesView = $("cases-view");
const caseMeasure = $("case-measure");
const casePlace = $("case-place");
const caseYear = $("case-year");
const caseStatus = $("case-status");
const casesBox = $("cases");
const moreFilters = $("more-filters");

let lastHits = [];
let lastTerms = [];
let lastMatch = null; // the response's `match` summary: query terms, their weights, how many were cut
let openHit = null; // {documentId, title, heading, page, start, end, text}
let searchSeq = 0;
let showWeak = false; // all=1: ask without the relevance cut-off
let readerSeq = 0;
let documents = []; // GET /api/documents summaries, each with its `facts`
const docsById = new Map();

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

/** "《标题》（发布机关，2022年），章节，第N页：“引文”" */
export function formatCitation({ title, heading, page, quote, facts }) {
  const f = facts || {};
  const about = [f.issuer, f.date ? dateLabel(f.date) : "", f.status === "superseded" ? "已被新版本取代" : ""].filter(Boolean);
  const parts = [`《${title || "未命名文件"}》${about.length ? `（${about.join("，")}）` : ""}`];
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

/** The hit's sentence that best matches the query: the server's, else the one holding most terms. */
function hitSentence(hit) {
  const m = hit.match;
  if (m && Number.isInteger(m.sentence_start) && Number.isInteger(hit.start)) {
    const q = hit.text.slice(m.sentence_start - hit.start, m.sentence_end - hit.start).trim();
    if (q) return q;
  }
  return bestSentence(hit.text, lastTerms);
}

async function copyCitation(hit, container) {
  const quote = (container && selectionWithin(container)) || hit.quote || hitSentence(hit);
  const text = formatCitation({ title: hit.title, heading: hit.heading, page: hit.page, quote, facts: hit.facts });
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
    jur: p.get("jur") || "",
    kind: p.get("kind") || "",
    from: p.get("from") || "",
    to: p.get("to") || "",
    status: ["current", "superseded"].includes(p.get("status")) ? p.get("status") : "",
    all: p.get("all") === "1",
    view: p.get("view") === "cases" ? "cases" : "",
    measure: p.get("measure") || "",
    place: p.get("place") || "",
    year: p.get("year") || "",
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
  for (const key of ["jur", "kind", "from", "to", "status"]) if (state[key]) p.set(key, state[key]);
  if (state.all) p.set("all", "1");
  if (state.view === "cases") {
    p.set("view", "cases");
    for (const key of ["measure", "place", "year"]) if (state[key]) p.set(key, state[key]);
  }
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
  return {
    q: qInput.value.trim(),
    doc: docSelect.value,
    heading: headingInput.value.trim(),
    k: kSelect.value,
    jur: jurSelect.value,
    kind: kindSelect.value,
    from: dateFrom.value.trim(),
    to: dateTo.value.trim(),
    status: statusSelect.value,
    all: showWeak,
    view: casesView.hidden ? "" : "cases",
    measure: caseMeasure.value,
    place: casePlace.value,
    year: caseYear.value,
  };
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
    facts: factsOf(h),
    match: h.match || null,
  };
}

const STRENGTH = { all: "全部命中", most: "大部分命中", some: "部分命中", weak: "弱匹配" };

/** The relevance cue: a bar and a word for the share of the query the passage holds. */
function relevanceCue(match) {
  if (!match) return null;
  const pct = Math.round((match.coverage || 0) * 100);
  return el("span", {
    class: `rel rel-${match.strength}`,
    title: `含检索词（按稀有程度加权）的 ${pct}%`,
    dataset: { coverage: String(match.coverage), strength: match.strength },
  },
  el("meter", { class: "rel-bar", min: "0", max: "1", low: "0.5", high: "0.75", optimum: "1", value: String(match.coverage || 0), "aria-hidden": "true" }),
  `${STRENGTH[match.strength] || ""} ${pct}%`);
}

function termsLine(match) {
  if (!match || (!match.terms.length && !match.missing.length)) return null;
  const line = el("div", { class: "hit-terms" }, "命中：");
  match.terms.forEach((t, i) => line.append(i ? "、" : "", el("span", { class: "held" }, t)));
  if (match.missing.length) {
    line.append("　未含：");
    match.missing.forEach((t, i) => line.append(i ? "、" : "", el("span", { class: "missing" }, t)));
  }
  return line;
}

/** A passage or case card's 阅读全文 and 复制引用 buttons, also on Enter and C when it has focus. */
function withActions(card, read, copy) {
  card.append(el("div", { class: "hit-actions" },
    el("button", { type: "button", class: "btn read", onclick: read }, "阅读全文"),
    el("button", { type: "button", class: "btn copy", onclick: copy }, "复制引用"),
  ));
  card.addEventListener("keydown", (e) => {
    if (e.target !== card) return;
    if (e.key === "Enter") {
      e.preventDefault();
      read();
    } else if (e.key === "c" || e.key === "C") {
      e.preventDefault();
      copy();
    }
  });
}

function hitCard(hit) {
  const meta = el("div", { class: "hit-meta" },
    headingLabel(hit.heading) ? el("span", { class: "heading" }, headingLabel(hit.heading)) : null,
    pageLabel(hit.page) ? el("span", { class: "page" }, pageLabel(hit.page)) : null,
    el("span", { class: "rank" }, `第 ${hit.rank} 条`),
    relevanceCue(hit.match),
  );
  const facts = factsLine(hit.facts, { tag: "div", className: "hit-facts" });
  const textNode = el("p", { class: "hit-text" }, highlighted(hit.text, lastTerms));
  const card = el("article", {
    class: "hit",
    tabindex: "0",
    dataset: { doc: hit.documentId, start: String(hit.start), end: String(hit.end) },
    "aria-label": `${hit.title} ${headingLabel(hit.heading)}`,
  }, meta, facts, termsLine(hit.match), textNode);
  withActions(card, () => openReader(hit, card), () => copyCitation(hit, textNode));
  card.hit = hit;
  return card;
}

/** Why nothing matched: the query terms no passage holds, and how many weak matches were cut. */
function emptyReasons() {
  const m = lastMatch;
  if (!m || !m.terms) return null;
  const absent = m.terms.filter((t) => t.passages === 0).map((t) => `“${t.text}”`);
  const parts = [];
  if (absent.length) parts.push(`已收录文件中没有出现${absent.join("")}。`);
  if (m.dropped) parts.push(`另有 ${m.dropped} 条段落只含少数检索词，已略去。`);
  if (!parts.length) return null;
  return el("span", { class: "why" }, parts.join(""));
}

function renderResults(hits) {
  // A keyboard user's place survives a re-render (facts arriving, a repeated search).
  const active = document.activeElement;
  const place = active && active.classList && active.classList.contains("hit")
    ? { doc: active.dataset.doc, start: active.dataset.start }
    : null;
  drawResults(hits);
  if (place) {
    const again = [...results.querySelectorAll(".hit")].find(
      (h) => h.dataset.doc === place.doc && h.dataset.start === place.start);
    if (again) again.focus();
  }
}

function drawResults(hits) {
  clear(results);
  if (!hits.length) {
    const showAll = lastMatch && lastMatch.dropped
      ? el("button", { type: "button", class: "btn show-weak", onclick: () => {
        showWeak = true;
        submitSearch(true);
      } }, `仍然显示 ${lastMatch.dropped} 条弱匹配段落`)
      : null;
    results.append(el("div", { class: "empty", role: "status" },
      "没有找到相关段落。可以换个关键词，或去掉筛选条件再试。", emptyReasons(), showAll));
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
    lastHits = [];
    statusBox.textContent = "输入关键词后按 Enter 检索。";
    renderDocList();
    return;
  }
  statusBox.textContent = "正在检索……";
  const filters = {};
  if (st.doc) filters.document_ids = [st.doc];
  if (st.heading) filters.heading = st.heading;
  if (st.jur) filters.jurisdiction = [st.jur];
  if (st.kind) filters.kind = [st.kind];
  if (st.from) filters.date_from = st.from;
  if (st.to) filters.date_to = st.to;
  if (st.status) filters.status = st.status;
  const body = { query: st.q, top_k: Number(st.k) || 20, match: !showWeak };
  if (Object.keys(filters).length) body.filters = filters;
  try {
    const data = await requestJSON("api/search", { method: "POST", body, timeout: 20000 });
    if (seq !== searchSeq) return;
    lastMatch = data.match || null;
    lastHits = (data.hits || []).map(hitFromApi);
    lastHits.forEach((h, i) => {
      h.rank = i + 1;
    });
    const docs = new Set(lastHits.map((h) => h.documentId)).size;
    clear(statusBox);
    if (lastHits.length) {
      statusBox.append(`共 ${lastHits.length} 条结果，来自 ${docs} 份文件。`);
      if (lastMatch && lastMatch.dropped) {
        statusBox.append(`已略去 ${lastMatch.dropped} 条弱匹配段落（所含检索词不到一半）。`);
      }
      if (showWeak) statusBox.append("正在显示全部结果，包括弱匹配。");
    }
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
  showCases(false, false);
  writeUrl(formState(), push);
  return runSearch();
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  showWeak = false;
  submitSearch(true);
});
function filterChanged() {
  if (qInput.value.trim()) submitSearch(true);
  else writeUrl(formState(), false);
}
for (const select of [docSelect, jurSelect, kindSelect, statusSelect]) select.addEventListener("change", filterChanged);
for (const input of [dateFrom, dateTo]) {
  input.addEventListener("change", () => {
    if (input.reportValidity()) filterChanged();
  });
}

// ------------------------------------------------------------------ reader -------------------

async function openReader(hit, card) {
  const seq = ++readerSeq;
  openHit = hit;
  for (const c of document.querySelectorAll(".hit.open, .case-card.open")) c.classList.remove("open");
  if (card) card.classList.add("open");
  reader.hidden = false;
  readerTitle.textContent = hit.title || "未命名文件";
  const known = docsById.get(hit.documentId);
  showReaderFacts(hit.documentId, (known && known.facts) || hit.facts);
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
    if (factsOf(doc) && !docsById.has(hit.documentId)) showReaderFacts(hit.documentId, factsOf(doc));
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
      const span = readerSentence(hit, text, s, e);
      const target = (span && markSentence(mark, text, s, e, span)) || mark;
      requestAnimationFrame(() => target.scrollIntoView({ block: "center" }));
    } else {
      readerBody.scrollTop = 0;
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

/**
 * [a, b) in the document of the sentence to mark inside the passage [s, e): the card's key sentence,
 * the server's best sentence for the query, or else the sentence holding most query terms.
 */
function readerSentence(hit, text, s, e) {
  const inside = (a, b) => Number.isInteger(a) && Number.isInteger(b) && s <= a && a < b && b <= e;
  if (hit.sentence && inside(hit.sentence[0], hit.sentence[1])) return hit.sentence;
  const m = hit.match;
  if (m && inside(m.sentence_start, m.sentence_end)) return [m.sentence_start, m.sentence_end];
  if (!lastTerms.length) return null;
  let best = null;
  let bestScore = 0;
  for (const x of text.slice(s, e).matchAll(/[^。！？；\n]+[。！？；]?[”’」』）)\]】]*/g)) {
    const score = flagsFor(x[0], lastTerms).reduce((n, f) => n + (f & 1), 0);
    if (score > bestScore) {
      let a = s + x.index;
      let b = a + x[0].length;
      while (a < b && /\s/.test(text[a])) a += 1;
      while (b > a && /\s/.test(text[b - 1])) b -= 1;
      best = [a, b];
      bestScore = score;
    }
  }
  return best;
}

/** Split the passage mark's text so [a, b) sits in <mark class="sentence">; returns that mark. */
function markSentence(mark, text, s, e, [a, b]) {
  if (!(s <= a && a < b && b <= e)) return null;
  clear(mark);
  const sentence = el("mark", { class: "sentence", id: "reader-sentence" }, text.slice(a, b));
  mark.append(text.slice(s, a), sentence, text.slice(b, e));
  return sentence;
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
    const card = [...document.querySelectorAll(".hit, .doc-card, .case-card")].find((c) => c.hit === was);
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
    if (!casesView.hidden) showCases(false);
    qInput.focus();
    qInput.select();
    return;
  }
  const cards = [...(casesView.hidden ? results : casesBox).querySelectorAll(".hit, .case-card")];
  if (!cards.length) return;
  const i = cards.indexOf(document.activeElement);
  if (e.key === "ArrowDown" || e.key === "j") {
    e.preventDefault();
    cards[Math.min(cards.length - 1, i + 1)].focus();
  } else if (e.key === "ArrowUp" || e.key === "k") {
    e.preventDefault();
    if (i <= 0) (casesView.hidden ? qInput : tabCases).focus();
    else cards[i - 1].focus();
  }
});

// ------------------------------------------------------------------ start --------------------

async function loadDocuments() {
  try {
    const data = await requestJSON("api/documents", { timeout: 15000 });
    documents = (Array.isArray(data) ? data : data.documents || []).filter((d) => d && d.id);
    docsById.clear();
    for (const d of documents) docsById.set(d.id, d);
    const keep = docSelect.value || stateFromUrl().doc;
    for (const d of documents) {
      docSelect.append(el("option", { value: d.id }, d.title || d.id));
    }
    if (keep) docSelect.value = keep;
    fillFacetOptions();
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
  setFacet(jurSelect, st.jur);
  setFacet(kindSelect, st.kind);
  dateFrom.value = st.from;
  dateTo.value = st.to;
  statusSelect.value = st.status;
  showWeak = st.all;
  closeReader(false);
  if (st.view === "cases") {
    showCases(true, false);
    setFacet(caseMeasure, st.measure);
    setFacet(casePlace, st.place);
    setFacet(caseYear, st.year);
    await loadCases();
    const card = st.open ? [...casesBox.querySelectorAll(".case-card")].find((c) => c.hit.documentId === st.open && (st.s === null || c.hit.start === st.s)) : null;
    if (card) openReader(card.hit, card);
    return;
  }
  showCases(false, false);
  await runSearch();
  if (st.open) {
    const known = docsById.get(st.open);
    const docCardHit = [...results.querySelectorAll(".doc-card")].map((c) => c.hit).find((h) => h.documentId === st.open);
    const hit = lastHits.find((h) => h.documentId === st.open && (st.s === null || h.start === st.s))
      || (st.s === null ? docCardHit : null)
      || { documentId: st.open, title: known ? known.title : "", heading: [], page: null, start: st.s ?? undefined, end: st.e ?? undefined, text: "", facts: known ? known.facts : null };
    const card = [...results.querySelectorAll(".hit, .doc-card")].find((c) => c.hit === hit);
    openReader(hit, card);
  }
}

window.addEventListener("popstate", restore);

// ------------------------------------------------------------------ precedent cards ---------

let caseSeq = 0;
const KIND = { project: "项目", enterprise: "企业", event: "事件" };

/** Show the 先例卡片 view (on) or the passage search (off); `push` records it in the history. */
function showCases(on, push = true) {
  const was = !casesView.hidden;
  casesView.hidden = !on;
  searchView.hidden = on;
  tabCases.setAttribute("aria-selected", String(on));
  tabSearch.setAttribute("aria-selected", String(!on));
  tabCases.tabIndex = on ? 0 : -1;
  tabSearch.tabIndex = on ? -1 : 0;
  if (push && was !== on) writeUrl(formState(), true);
}

tabSearch.addEventListener("click", () => {
  closeReader(false);
  showCases(false);
  qInput.focus();
});
tabCases.addEventListener("click", () => {
  closeReader(false);
  showCases(true);
  loadCases();
});
for (const tab of [tabSearch, tabCases]) {
  tab.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    const other = tab === tabSearch ? tabCases : tabSearch;
    other.focus();
    other.click();
  });
}

/** Fill a filter select with facet values ("平湖市（12）"), keeping the current choice. */
function fillCaseFacet(select, all, facets) {
  const keep = select.value;
  clear(select);
  select.append(el("option", { value: "" }, all), ...facets.map((f) => el("option", { value: f.value }, `${f.value}（${f.count}）`)));
  setFacet(select, keep);
}

/** A citation for a case: what happened, then the source as formatCitation words it. */
export function formatCaseCitation(card) {
  const when = card.date_label && card.date_label !== "日期不详" ? card.date_label : "";
  const where = [card.place, when].filter(Boolean).join("，");
  const measures = card.measures.map((m) => m.name).join("、");
  const head = `案例：${card.subject}${where ? `（${where}）` : ""}${measures ? `；措施：${measures}` : ""}。`;
  const src = card.source;
  return head + formatCitation({ title: src.title, heading: src.heading, page: null, quote: src.quote, facts: card.document });
}

async function copyCase(card) {
  const text = formatCaseCitation(card);
  const ok = await copyText(text);
  showToast(ok ? `已复制引用：${text}` : `复制失败，请手动复制：${text}`);
  document.body.dataset.lastCitation = text;
}

function chips(values, className, onclick) {
  return values.map((v) => (onclick
    ? el("button", { type: "button", class: `chip ${className}`, title: `只看“${v}”`, onclick: () => onclick(v) }, v)
    : el("span", { class: `chip ${className}` }, v)));
}

function caseCard(c) {
  const src = c.source;
  const hit = {
    documentId: src.document_id,
    title: src.title,
    heading: src.heading,
    page: null,
    start: src.start,
    end: src.end,
    text: "",
    facts: c.document,
    sentence: [src.quote_start, src.quote_end],
    quote: src.quote,
  };
  const dateNote = c.date_resolved && c.date_text && c.date_text !== c.date_label
    ? el("span", { class: "date-note" }, `（文中“${c.date_text}”，据文件日期推定）`)
    : null;
  const card = el("article", {
    class: "case-card",
    tabindex: "0",
    dataset: { id: c.id, doc: src.document_id, start: String(src.start), end: String(src.end), year: c.year || "" },
    "aria-label": c.subject,
  },
  el("h3", {}, c.subject, el("span", { class: "case-kind" }, KIND[c.subject_kind] || "")),
  el("div", { class: "case-meta" },
    el("span", { class: "case-place" }, `地点：${c.place || "不详"}`),
    el("span", { class: "case-date" }, `时间：${c.date_label}`, dateNote),
    c.headline ? el("span", { class: "case-headline" }, `出自：${c.headline}`) : null,
  ),
  el("div", { class: "case-row case-measures" }, el("b", {}, "措施"), chips(c.measures.map((m) => m.name), "measure", (v) => {
    setFacet(caseMeasure, v);
    caseFilterChanged();
  })),
  c.figures.length ? el("div", { class: "case-row case-figures" }, el("b", {}, "数字"), chips(c.figures, "fig")) : null,
  c.parties.length ? el("div", { class: "case-row case-parties" }, el("b", {}, "相关企业"), chips(c.parties, "party")) : null,
  el("blockquote", { class: "case-quote" }, highlighted(src.quote, [])),
  el("div", { class: "case-source" }, `《${src.title || "未命名文件"}》${headingLabel(src.heading) ? ` · ${headingLabel(src.heading)}` : ""} · `, factsLine(c.document)));
  withActions(card, () => openReader(hit, card), () => copyCase(c));
  card.hit = hit;
  card.case = c;
  return card;
}

async function loadCases() {
  const seq = ++caseSeq;
  const params = new URLSearchParams();
  if (caseMeasure.value) params.set("measure", caseMeasure.value);
  if (casePlace.value) params.set("place", casePlace.value);
  if (caseYear.value) params.set("year", caseYear.value);
  caseStatus.textContent = "正在整理先例……";
  try {
    const data = await requestJSON(`api/precedents${params.toString() ? `?${params}` : ""}`, { timeout: 30000 });
    if (seq !== caseSeq) return;
    if (data.facets) {
      fillCaseFacet(caseMeasure, "全部措施", data.facets.measures || []);
      fillCaseFacet(casePlace, "全部地点", data.facets.places || []);
      fillCaseFacet(caseYear, "全部年份", data.facets.years || []);
    }
    const cards = data.precedents || [];
    clear(casesBox);
    const filtered = Boolean(caseMeasure.value || casePlace.value || caseYear.value);
    caseStatus.textContent = filtered
      ? `符合条件的先例 ${cards.length} 个（共 ${data.total} 个）。`
      : `共 ${cards.length} 个先例，来自已收录文件中讲到的具体案例。`;
    if (!cards.length) {
      casesBox.append(el("div", { class: "empty", role: "status" },
        filtered ? "没有找到符合条件的先例。可以放宽措施、地点或年份再试。" : "已收录文件中还没有找到具体案例。"));
      return;
    }
    casesBox.append(...cards.map(caseCard));
  } catch (err) {
    if (seq !== caseSeq) return;
    clear(caseStatus);
    clear(casesBox);
    casesBox.append(el("div", { class: "notice-error", role: "alert" },
      el("p", {}, friendlyError(err)),
      el("button", { type: "button", class: "btn primary", onclick: loadCases }, "重试"),
    ));
  }
}

function caseFilterChanged() {
  closeReader(false);
  writeUrl(formState(), true);
  loadCases();
}
for (const select of [caseMeasure, casePlace, caseYear]) select.addEventListener("change", caseFilterChanged);
$("case-clear").addEventListener("click", () => {
  caseMeasure.value = "";
  casePlace.value = "";
  caseYear.value = "";
  caseFilterChanged();
});
$("cases-form").addEventListener("submit", (e) => e.preventDefault());

// On a phone the file facts filters start folded (unless a shared link sets one).
if (window.matchMedia("(max-width: 600px)").matches) {
  const st = stateFromUrl();
  if (!(st.jur || st.kind || st.from || st.to || st.status)) moreFilters.open = false;
}

// ------------------------------------------------------------------ document facts ----------

/** Distinct non-empty values of one facts field over the documents, sorted. */
function factValues(key) {
  const values = new Set();
  for (const d of documents) {
    const v = d.facts && d.facts[key];
    if (typeof v === "string" && v.trim()) values.add(v.trim());
  }
  return [...values].sort((a, b) => a.localeCompare(b, "zh-CN"));
}

/** Select `value` in a facet select, adding it as an option when the list lacks it (a shared URL). */
function setFacet(select, value) {
  if (value && ![...select.options].some((o) => o.value === value)) select.append(el("option", { value }, value));
  select.value = value;
}

/** Jurisdiction (全国 + every document's place) and kind selects, and the edit form's suggestions. */
function fillFacetOptions() {
  const places = ["全国", ...factValues("jurisdiction").filter((v) => v !== "全国")];
  const kinds = factValues("kind");
  for (const [select, all, values] of [[jurSelect, "全部地域", places], [kindSelect, "全部类型", kinds]]) {
    const keep = select.value;
    clear(select);
    select.append(el("option", { value: "" }, all), ...values.map((v) => el("option", { value: v }, v)));
    setFacet(select, keep);
  }
  const jurList = $("jur-options");
  clear(jurList);
  jurList.append(...places.map((v) => el("option", { value: v })));
  const kindList = $("kind-options");
  clear(kindList);
  const standard = ["法律", "行政法规", "部门规章", "地方性法规", "地方政府规章", "司法解释", "规范性文件", "工作简报"];
  kindList.append(...[...new Set([...standard, ...kinds])].map((v) => el("option", { value: v })));
}

/** A reader target for a whole document (no passage to mark). */
function docHit(d) {
  return { documentId: d.id, title: d.title || "", heading: [], page: null, start: undefined, end: undefined, text: "", facts: d.facts || null };
}

function docCard(d) {
  const hit = docHit(d);
  const sub = [d.filename, Number.isFinite(d.chunks) ? `${d.chunks} 段` : "", d.pages ? `${d.pages} 页` : ""].filter(Boolean).join(" · ");
  const card = el("article", { class: "doc-card", tabindex: "-1", dataset: { doc: d.id } },
    el("h3", {}, d.title || d.filename || d.id),
    factsLine(d.facts, { tag: "p", kind: true }),
    sub ? el("p", { class: "doc-sub" }, sub) : null,
    el("div", { class: "hit-actions" },
      el("button", { type: "button", class: "btn read", onclick: () => openReader(hit, card) }, "阅读全文"),
    ),
  );
  card.hit = hit;
  return card;
}

/** With no query: the documents and their facts. */
function renderDocList() {
  clear(results);
  if (!documents.length) return;
  results.append(
    el("section", { class: "doc-list", "aria-label": "已收录文件" },
      el("h2", {}, `已收录文件（${documents.length} 份）`),
      documents.map(docCard),
    ),
  );
}

/** The reader's facts line and, for an admin, the correction form filled with the same facts. */
function showReaderFacts(docId, facts) {
  fillFacts(readerFacts, facts, { kind: true });
  readerFacts.dataset.doc = docId;
  factsEdit.hidden = !adminKey();
  factsForm.dataset.doc = docId;
  const f = facts || {};
  for (const key of ["date", "issuer", "jurisdiction", "kind"]) factsForm.elements[key].value = f[key] || "";
  factsForm.elements.status.value = f.status === "superseded" ? "superseded" : "current";
  factsForm.facts = { ...f };
  showFormMessage("");
}

/** After an edit: every place the document's facts are shown. */
function applyFacts(docId, facts) {
  const known = docsById.get(docId);
  if (known) known.facts = facts;
  fillFacetOptions();
  for (const h of lastHits) if (h.documentId === docId) h.facts = facts;
  for (const card of results.querySelectorAll(".hit, .doc-card")) {
    if (card.dataset.doc !== docId) continue;
    if (card.hit) card.hit.facts = facts;
    const line = card.querySelector(".facts");
    if (line) fillFacts(line, facts, { kind: card.classList.contains("doc-card") });
  }
  if (openHit && openHit.documentId === docId) {
    openHit.facts = facts;
    showReaderFacts(docId, facts);
  }
  forgetDocuments(); // the cached GET /api/documents/{id} bodies hold the old facts
}

function showFormMessage(error, saved = "") {
  const err = $("facts-error");
  err.textContent = error;
  err.hidden = !error;
  const ok = $("facts-saved");
  ok.textContent = saved;
  ok.hidden = !saved;
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/** "" when the date is empty or well-formed, else why not. */
function dateProblem(value) {
  if (!value) return "";
  const m = DATE.exec(value);
  if (!m) return "日期格式应为 YYYY、YYYY-MM 或 YYYY-MM-DD，如 2019、2019-08 或 2019-08-26。";
  const month = m[2] ? Number(m[2]) : 1;
  const day = m[3] ? Number(m[3]) : 1;
  if (month < 1 || month > 12) return "月份应在 01 到 12 之间。";
  if (day < 1 || day > new Date(Date.UTC(Number(m[1]), month, 0)).getUTCDate()) return "这个月没有这一天。";
  return "";
}

factsForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const docId = factsForm.dataset.doc;
  const key = adminKey();
  if (!docId || !key) return;
  const before = factsForm.facts || {};
  const body = {};
  for (const field of ["date", "issuer", "jurisdiction", "kind"]) {
    const value = factsForm.elements[field].value.trim();
    if (value !== (before[field] || "")) body[field] = value || null;
  }
  const status = factsForm.elements.status.value;
  if (status !== (before.status === "superseded" ? "superseded" : "current")) body.status = status;
  const problem = dateProblem(body.date || "");
  if (problem) {
    showFormMessage(problem);
    factsForm.elements.date.focus();
    return;
  }
  if (!Object.keys(body).length) {
    showFormMessage("", "没有改动。");
    return;
  }
  const save = $("facts-save");
  save.disabled = true;
  showFormMessage("", "正在保存……");
  try {
    const summary = await requestJSON(`api/documents/${encodeURIComponent(docId)}/facts`, {
      method: "PATCH",
      body,
      auth: key,
      timeout: 20000,
    });
    applyFacts(docId, factsOf(summary) || {});
    showFormMessage("", `已保存：${factsText(factsOf(summary))}`);
  } catch (err) {
    if (err instanceof ApiError && err.kind === "http") {
      if (err.status === 401) setAdminKey("");
      showFormMessage(`保存失败：${err.message}`);
    } else {
      showFormMessage(`保存失败。${friendlyError(err)}`);
    }
  } finally {
    save.disabled = false;
  }
});

// ------------------------------------------------------------------ admin key ---------------
// The admin key (PA_API_KEY) is kept for this tab only (sessionStorage), apart from the access key.

const ADMIN_STORE = "policy-assistant.admin-key";
const adminDialog = $("admin-dialog");
const adminInput = $("admin-key");
const adminError = $("admin-error");

function adminKey() {
  try {
    return sessionStorage.getItem(ADMIN_STORE) || "";
  } catch {
    return "";
  }
}

function setAdminKey(key) {
  try {
    if (key) sessionStorage.setItem(ADMIN_STORE, key);
    else sessionStorage.removeItem(ADMIN_STORE);
  } catch {
    /* storage blocked: the key is not kept */
  }
  renderAdmin();
}

function renderAdmin() {
  const on = Boolean(adminKey());
  $("admin-state").hidden = !on;
  $("admin-btn").textContent = on ? "退出管理" : "管理员登录";
  factsEdit.hidden = !on || reader.hidden;
}

$("admin-btn").addEventListener("click", () => {
  if (adminKey()) {
    setAdminKey("");
    return;
  }
  adminInput.value = "";
  adminError.hidden = true;
  adminDialog.showModal();
  adminInput.focus();
});
$("admin-cancel").addEventListener("click", () => adminDialog.close());
$("admin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = adminInput.value.trim();
  if (!key) {
    adminInput.focus();
    return;
  }
  const save = $("admin-save");
  save.disabled = true;
  adminError.hidden = true;
  try {
    await requestJSON("api/jobs", { auth: key, timeout: 15000 }); // an admin-only route: checks the key
    setAdminKey(key);
    adminDialog.close();
    showToast("已进入管理员模式：阅读全文时可更正文件信息。");
  } catch (err) {
    adminError.textContent = err instanceof ApiError && err.kind === "http"
      ? err.status === 401 ? "密钥不正确。" : `无法登录：${err.message}`
      : friendlyError(err);
    adminError.hidden = false;
    adminInput.select();
  } finally {
    save.disabled = false;
  }
});

renderAdmin();

(async () => {
  await loadDocuments();
  await restore();
  if (!qInput.value) qInput.focus();
  document.body.dataset.ready = "1";
})();
