// The service-hall kiosk (and, with ?embed=1, the widget's iframe): a touch chat with cited answers.
import {
  ApiError,
  clear,
  contextWindow,
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
  streamSSE,
} from "./common.js";

const params = new URLSearchParams(location.search);
const EMBED = params.get("embed") === "1";
if (EMBED) document.documentElement.classList.add("embed");

const $ = (id) => document.getElementById(id);
const main = $("main");
const start = $("start");
const conversation = $("conversation");
const form = $("ask-form");
const input = $("question");
const sendBtn = $("send");
const viewer = $("viewer");
const idleWarning = $("idle-warning");

const config = {
  idleResetSeconds: 120,
  maxHistory: 10,
  maxQuestionChars: 500,
  suggestions: [],
};

/** Everything about the current visitor; reset() wipes it. */
let history = []; // [{role, content}] sent with follow-up questions
let busy = false;
let current = null; // AbortController of the request in flight
let generation = 0; // bumped by reset(); late callbacks of an older generation are ignored
let scale = 1;
let lastActivity = Date.now();
let viewerTrigger = null;

// ------------------------------------------------------------------ answer rendering ----------

const MARKER = /[[［【](\d{1,3})[\]］】]/g;

function citationNumber(c) {
  return String(c.id ?? c.number ?? "");
}

function sourceOf(c) {
  const s = c.source || c;
  return {
    documentId: s.document_id ?? c.document_id,
    title: s.title ?? c.title ?? "",
    heading: s.heading ?? s.heading_path ?? c.heading_path ?? [],
    page: s.page ?? c.page ?? null,
    start: s.start ?? c.start,
    end: s.end ?? c.end,
  };
}

/** The answer text as text nodes, with [n] markers turned into tappable buttons. */
function renderAnswerText(container, text, citations, final) {
  clear(container);
  const byNum = new Map(citations.map((c) => [citationNumber(c), c]));
  let last = 0;
  for (const m of text.matchAll(MARKER)) {
    container.append(document.createTextNode(text.slice(last, m.index)));
    const c = byNum.get(m[1]);
    if (c) {
      container.append(
        el("button", {
          type: "button",
          class: "cite",
          dataset: { n: m[1] },
          "aria-label": `查看来源 ${m[1]}`,
          onclick: (e) => openSource(c, e.currentTarget),
        }, m[1]),
      );
    } else if (!final) {
      container.append(el("button", { type: "button", class: "cite", disabled: true, "aria-hidden": "true" }, m[1]));
    } else {
      container.append(document.createTextNode(m[0]));
    }
    last = m.index + m[0].length;
  }
  container.append(document.createTextNode(text.slice(last)));
}

function sourceButton(num, item, quote, onOpen) {
  const src = sourceOf(item);
  const meta = [headingLabel(src.heading), pageLabel(src.page)].filter(Boolean).join(" · ");
  return el("button", { type: "button", class: "source-item", onclick: onOpen },
    el("span", { class: "num" }, num),
    el("span", { class: "what" },
      el("span", { class: "t" }, src.title || "未命名文件"),
      meta ? el("span", { class: "m" }, meta) : null,
      quote ? el("span", { class: "q" }, quote) : null,
    ),
  );
}

/** One assistant bubble; update() while streaming, finish() at the end, fail() on error. */
function botBubble() {
  const badge = el("div", { class: "badge" }, "正在查找");
  const answer = el("div", { class: "answer" });
  const pending = el("div", { class: "pending" }, "正在查阅文件，请稍候……");
  const extra = el("div");
  const node = el("article", { class: "msg msg-bot streaming", "aria-busy": "true" }, badge, pending, answer, extra);

  return {
    node,
    update(state) {
      if (state.text) pending.remove();
      node.dataset.deltas = String(state.deltas);
      renderAnswerText(answer, state.text, state.citations, false);
    },
    finish(state) {
      pending.remove();
      node.classList.remove("streaming");
      node.removeAttribute("aria-busy");
      clear(extra);
      if (state.abstained) {
        node.classList.add("abstained");
        node.dataset.kind = "abstained";
        badge.textContent = "未找到明确依据";
        renderAnswerText(answer, state.text || "已收录的文件中没有找到能回答这个问题的明确规定。", [], true);
        extra.append(el("p", { class: "advice" }, "建议换个说法再问，或咨询窗口工作人员。"));
        if (state.related.length) {
          extra.append(
            el("section", { class: "related", "aria-label": "可能相关的材料" },
              el("h3", {}, "可能相关的材料（仅供参考，并非对您问题的答复）"),
              el("ul", {}, state.related.map((r, i) =>
                el("li", {}, sourceButton(`${i + 1}.`, r, r.text, (e) => openSource({ quote: r.text, source: r.source }, e.currentTarget, "相关材料"))),
              )),
            ),
          );
        }
      } else {
        node.dataset.kind = "answer";
        badge.textContent = "依据文件回答";
        renderAnswerText(answer, state.text, state.citations, true);
        if (state.citations.length) {
          extra.append(
            el("section", { class: "sources", "aria-label": "依据来源" },
              el("h3", {}, "依据来源（点击查看原文）"),
              el("ol", {}, state.citations.map((c) =>
                el("li", {}, sourceButton(`[${citationNumber(c)}]`, c, c.quote, (e) => openSource(c, e.currentTarget))),
              )),
            ),
          );
        }
        extra.append(el("p", { class: "disclaimer" }, "以上内容摘自所列文件，仅供参考。"));
      }
    },
    fail(err, onRetry) {
      pending.remove();
      node.classList.remove("streaming");
      node.removeAttribute("aria-busy");
      node.classList.add("error");
      node.dataset.kind = "error";
      badge.textContent = "暂时无法回答";
      clear(answer);
      clear(extra);
      extra.append(
        el("div", { class: "notice-error", role: "alert" },
          el("p", {}, friendlyError(err)),
          el("button", { type: "button", class: "btn primary retry", onclick: onRetry }, "重试"),
        ),
      );
    },
  };
}

// ------------------------------------------------------------------ asking -------------------

function applyFinal(state, data) {
  if (!data || typeof data !== "object") return;
  const answer = data.answer ?? data.text;
  if (typeof answer === "string" && answer) state.text = answer;
  if (Array.isArray(data.citations)) state.citations = data.citations;
  if (typeof data.abstained === "boolean") state.abstained = data.abstained;
  if (Array.isArray(data.related)) state.related = data.related;
  if (typeof data.confidence === "number") state.confidence = data.confidence;
}

function deltaOf(data) {
  if (typeof data === "string") return data;
  if (data && typeof data === "object") {
    for (const key of ["delta", "text", "content", "token"]) if (typeof data[key] === "string") return data[key];
  }
  return "";
}

function handleEvent(ev, state) {
  const { event, data } = ev;
  switch (event) {
    case "json":
    case "answer":
    case "final":
    case "result":
      applyFinal(state, data);
      state.complete = true;
      break;
    case "citations":
    case "meta":
    case "sources":
      applyFinal(state, Array.isArray(data) ? { citations: data } : data);
      break;
    case "done":
    case "end":
      applyFinal(state, data);
      state.complete = true;
      break;
    case "error":
      throw new ApiError((data && data.error) || String(data || "error"), "http", (data && data.status) || 500);
    default:
      // "delta", "token", "text", "message"...
      state.text += deltaOf(data);
      state.deltas += 1;
  }
}

function scrollToFollow(userNode, botNode) {
  // Follow the answer down, but never scroll the question off the top.
  const maxTop = userNode.offsetTop - 12;
  const want = botNode.offsetTop + botNode.offsetHeight - main.clientHeight + 24;
  const top = Math.max(main.scrollTop, Math.min(want, maxTop));
  if (top > main.scrollTop) main.scrollTop = top;
}

function setBusy(value) {
  busy = value;
  sendBtn.disabled = value;
  sendBtn.textContent = value ? "回答中…" : "提问";
}

async function ask(rawQuestion) {
  const question = (rawQuestion || "").trim();
  if (!question || busy) return;
  if (question.length > config.maxQuestionChars) {
    flashInputError(`问题太长了，请控制在 ${config.maxQuestionChars} 字以内。`);
    return;
  }
  start.hidden = true;
  const gen = generation;
  const userNode = el("div", { class: "msg msg-user" }, question);
  const bot = botBubble();
  conversation.append(userNode, bot.node);
  main.scrollTop = Math.max(0, userNode.offsetTop - 12);

  // Whole question/answer pairs only, as many as the server accepts.
  const keep = Math.max(0, config.maxHistory - (config.maxHistory % 2));
  const requestHistory = keep ? history.slice(-keep) : [];
  const state = { text: "", citations: [], abstained: false, related: [], complete: false, deltas: 0 };
  const ctrl = new AbortController();
  current = ctrl;
  setBusy(true);
  try {
    await streamSSE("api/ask", { question, history: requestHistory }, {
      signal: ctrl.signal,
      onEvent: (ev) => {
        if (gen !== generation) return;
        handleEvent(ev, state);
        lastActivity = Date.now();
        bot.update(state);
        scrollToFollow(userNode, bot.node);
      },
    });
    if (gen !== generation) return;
    if (!state.text && !state.complete) throw new ApiError("empty response", "protocol");
    bot.finish(state);
    scrollToFollow(userNode, bot.node);
    history.push({ role: "user", content: question }, { role: "assistant", content: state.text });
  } catch (err) {
    if (gen !== generation || (err && err.kind === "aborted")) return;
    bot.fail(err, () => {
      userNode.remove();
      bot.node.remove();
      ask(question);
    });
    scrollToFollow(userNode, bot.node);
  } finally {
    if (gen === generation) {
      current = null;
      setBusy(false);
    }
  }
}

function flashInputError(message) {
  input.setCustomValidity(message);
  input.reportValidity();
  setTimeout(() => input.setCustomValidity(""), 3000);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = input.value;
  if (!q.trim() || busy) return;
  input.value = "";
  autosize();
  ask(q);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});
function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight + 4, window.innerHeight * 0.25)}px`;
}
input.addEventListener("input", autosize);

// ------------------------------------------------------------------ source viewer -------------

const viewerTitle = $("viewer-title");
const viewerMeta = $("viewer-meta");
const viewerKicker = $("viewer-kicker");
const viewerBody = $("viewer-body");
const viewerFull = $("viewer-full");
let viewerState = null;

function renderViewerBody() {
  const { text, span, full, quote, error, loading } = viewerState;
  clear(viewerBody);
  if (loading) {
    viewerBody.append(el("p", { class: "k-hint" }, "正在打开原文……"));
    return;
  }
  if (error) {
    viewerBody.append(
      el("div", { class: "notice-error", role: "alert" },
        el("p", {}, `原文暂时打不开。${friendlyError(error)}`),
        el("button", { type: "button", class: "btn primary", onclick: () => loadViewer() }, "重试"),
      ),
    );
    if (quote) viewerBody.append(el("h3", {}, "引用的原文片段"), el("div", { class: "passage doc-text" }, el("mark", { class: "cited" }, quote)));
    viewerFull.hidden = true;
    return;
  }
  const [s, e] = span;
  const [from, to] = full ? [0, text.length] : contextWindow(text, s, e);
  const { fragment, mark } = markedText(text, s, e, { from, to });
  const passage = el("div", {
    class: "passage doc-text",
    id: "viewer-passage",
    dataset: { doc: viewerState.documentId, start: String(s), end: String(e) },
  }, fragment);
  viewerBody.append(passage);
  viewerFull.hidden = false;
  viewerFull.textContent = full ? "只看引用段落" : "查看全文";
  if (mark) requestAnimationFrame(() => mark.scrollIntoView({ block: full ? "center" : "nearest" }));
}

async function loadViewer() {
  const st = viewerState;
  st.loading = true;
  st.error = null;
  renderViewerBody();
  const gen = generation;
  try {
    const doc = await fetchDocument(st.documentId);
    if (gen !== generation || viewerState !== st) return;
    st.text = documentText(doc);
    st.span = locateSpan(st.text, st.start, st.end, st.quote);
    if (!st.title) {
      st.title = documentTitle(doc, "");
      viewerTitle.textContent = st.title || "未命名文件";
    }
  } catch (err) {
    if (gen !== generation || viewerState !== st) return;
    st.error = err;
  }
  st.loading = false;
  renderViewerBody();
}

function openSource(item, trigger, kicker) {
  const src = sourceOf(item);
  const num = item.id ?? item.number;
  viewerTrigger = trigger || null;
  viewerState = {
    documentId: src.documentId,
    title: src.title,
    start: src.start,
    end: src.end,
    quote: item.quote || item.text || "",
    full: false,
    text: "",
    span: [0, 0],
  };
  viewerKicker.textContent = kicker || (num !== undefined ? `来源 [${num}] · 原文出处` : "原文出处");
  viewerTitle.textContent = src.title || "未命名文件";
  clear(viewerMeta);
  const heading = headingLabel(src.heading);
  if (heading) viewerMeta.append(el("span", {}, `章节：${heading}`));
  if (pageLabel(src.page)) viewerMeta.append(el("span", {}, pageLabel(src.page)));
  viewer.hidden = false;
  $("viewer-close").focus();
  loadViewer();
}

function closeViewer() {
  if (viewer.hidden) return;
  viewer.hidden = true;
  viewerState = null;
  clear(viewerBody);
  if (viewerTrigger && document.contains(viewerTrigger)) viewerTrigger.focus({ preventScroll: true });
  viewerTrigger = null;
}

$("viewer-close").addEventListener("click", closeViewer);
$("viewer-back").addEventListener("click", closeViewer);
viewerFull.addEventListener("click", () => {
  if (!viewerState) return;
  viewerState.full = !viewerState.full;
  renderViewerBody();
});
viewer.addEventListener("click", (e) => {
  if (e.target === viewer) closeViewer();
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") closeViewer();
});

// ------------------------------------------------------------------ font size ----------------

const sizeButtons = [...document.querySelectorAll(".fontsize button")];
function setScale(value) {
  scale = value;
  document.documentElement.style.setProperty("--scale", String(value));
  for (const b of sizeButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.scale) === value));
}
for (const b of sizeButtons) b.addEventListener("click", () => setScale(Number(b.dataset.scale)));

// ------------------------------------------------------------------ reset & idle -------------

function reset() {
  generation += 1;
  if (current) current.abort();
  current = null;
  setBusy(false);
  history = [];
  closeViewer();
  clear(conversation);
  input.value = "";
  autosize();
  setScale(1);
  idleWarning.hidden = true;
  start.hidden = false;
  main.scrollTop = 0;
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  lastActivity = Date.now();
  if (!config.suggestions.length) loadConfig();
}

$("restart").addEventListener("click", reset);
$("idle-continue").addEventListener("click", () => {
  lastActivity = Date.now();
  idleWarning.hidden = true;
});

const bump = () => {
  lastActivity = Date.now();
};
for (const type of ["pointerdown", "keydown", "input", "wheel", "touchstart"]) {
  window.addEventListener(type, bump, { capture: true, passive: true });
}

function hasSession() {
  return conversation.childElementCount > 0 || !viewer.hidden || input.value.trim() !== "" || scale !== 1;
}

function checkIdle() {
  const limit = config.idleResetSeconds;
  if (EMBED || !limit || limit <= 0) return;
  if (busy) {
    bump();
    return;
  }
  if (!hasSession()) {
    idleWarning.hidden = true;
    return;
  }
  const idle = (Date.now() - lastActivity) / 1000;
  const warnFor = Math.min(20, limit * 0.3);
  if (idle >= limit) {
    reset();
  } else if (idle >= limit - warnFor) {
    $("idle-text").textContent = `长时间无操作，${Math.ceil(limit - idle)} 秒后将自动重新开始，以保护您的隐私。`;
    idleWarning.hidden = false;
  } else {
    idleWarning.hidden = true;
  }
}
setInterval(checkIdle, 250);

// ------------------------------------------------------------------ start screen -------------

function renderSuggestions() {
  const list = $("suggestions");
  clear(list);
  for (const q of config.suggestions) {
    list.append(el("li", {}, el("button", { type: "button", onclick: () => ask(q) }, q)));
  }
  $("suggest-title").hidden = config.suggestions.length === 0;
}

async function loadConfig() {
  const status = $("suggest-status");
  clear(status);
  try {
    const data = await requestJSON("api/page-config", { timeout: 10000 });
    if (Number.isFinite(data.idle_reset_seconds)) config.idleResetSeconds = data.idle_reset_seconds;
    if (Number.isFinite(data.max_history_turns)) config.maxHistory = data.max_history_turns;
    if (Number.isFinite(data.max_question_chars)) config.maxQuestionChars = data.max_question_chars;
    input.maxLength = config.maxQuestionChars;
    config.suggestions = Array.isArray(data.suggestions) ? data.suggestions.filter((s) => typeof s === "string") : [];
    if (data.title) document.querySelector(".k-brand h1").textContent = data.title;
    if (data.subtitle) document.querySelector(".k-brand p").textContent = data.subtitle;
    renderSuggestions();
    if (!config.suggestions.length && data.ready === false) setTimeout(loadConfig, 3000);
  } catch (err) {
    config.suggestions = [];
    renderSuggestions();
    status.append(
      el("div", { class: "notice-error", role: "alert" },
        el("p", {}, friendlyError(err)),
        el("button", { type: "button", class: "btn primary", onclick: loadConfig }, "重试"),
      ),
    );
  }
}

loadConfig();
document.body.dataset.ready = "1";
