// The service-hall kiosk (and, with ?embed=1, the widget's iframe): a touch chat with cited answers.
import {
  ApiError,
  blobToDataUrl,
  clear,
  contextWindow,
  copyText,
  documentText,
  documentTitle,
  el,
  factsLine,
  factsOf,
  fetchDocument,
  friendlyError,
  headingLabel,
  locateSpan,
  markedText,
  pageLabel,
  requestBlob,
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
  contact: { window: "", phone: "", hours: "" }, // the service hall's, from settings (PA_CONTACT_*)
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
    facts: factsOf(c) || factsOf(s),
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
      factsLine(src.facts, { className: "f" }),
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
      if (state.questionId) node.dataset.questionId = state.questionId;
      if (state.abstained) {
        node.classList.add("abstained");
        node.dataset.kind = "abstained";
        badge.textContent = "未找到明确依据";
        renderAnswerText(answer, state.text || "已收录的文件中没有找到能回答这个问题的明确规定。", [], true);
        extra.append(el("p", { class: "advice" }, "建议换个说法再问，或咨询窗口工作人员。"));
        const contact = contactCard();
        if (contact) extra.append(contact);
        if (state.related.length) {
          extra.append(
            el("section", { class: "related", "aria-label": "可能相关的材料" },
              el("h3", {}, "可能相关的材料（仅供参考，并非对您问题的答复）"),
              el("ul", {}, state.related.map((r, i) =>
                el("li", {}, sourceButton(`${i + 1}.`, r, r.text, (e) => openSource({ quote: r.text, source: r.source, document: r.document }, e.currentTarget, "相关材料"))),
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
      extra.append(...afterAnswer(state));
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

// ------------------------------------------------------------------ after an answer ----------
// Follow-up questions, copy, 👍/👎 with an optional reason, a QR code to take home, read-aloud.

// Icons as inline SVG paths (Material Design Icons, Apache-2.0): a kiosk may have no emoji font.
const ICONS = {
  copy: "M16 1H4c-1.1 0-2 .9-2 2v14h2V3h12V1zm3 4H8c-1.1 0-2 .9-2 2v14c0 1.1.9 2 2 2h11c1.1 0 2-.9 2-2V7c0-1.1-.9-2-2-2zm0 16H8V7h11v14z",
  qr: "M3 11h8V3H3v8zm2-6h4v4H5V5zM3 21h8v-8H3v8zm2-6h4v4H5v-4zM13 3v8h8V3h-8zm6 6h-4V5h4v4zM13 13h2v2h-2zM15 15h2v2h-2zM13 17h2v2h-2zM17 17h2v2h-2zM19 19h2v2h-2zM15 19h2v2h-2zM17 13h2v2h-2zM19 15h2v2h-2z",
  up: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
  down: "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z",
  speak: "M3 9v6h4l5 5V4L7 9H3zm13.5 3c0-1.77-1.02-3.29-2.5-4.03v8.05c1.48-.73 2.5-2.25 2.5-4.02zM14 3.23v2.06c2.89.86 5 3.54 5 6.71s-2.11 5.85-5 6.71v2.06c4.01-.91 7-4.49 7-8.77s-2.99-7.86-7-8.77z",
  stop: "M6 6h12v12H6z",
};
const SVG_NS = "http://www.w3.org/2000/svg";

function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** An action button: icon and label (setLabel() changes both). */
function actionButton(name, label, attrs = {}) {
  const text = el("span", { class: "label" }, label);
  const btn = el("button", { type: "button", ...attrs }, icon(name), text);
  btn.setLabel = (newName, newLabel) => {
    btn.firstChild.replaceWith(icon(newName));
    text.textContent = newLabel;
  };
  return btn;
}

const FEEDBACK_REASONS = ["没有回答我的问题", "内容看不懂", "依据过时或不对", "想问的不是这个"];
const MARKERS = /\s*[[［【]\d{1,3}[\]］】]/g;

/** The service hall's window, phone and hours (settings), or null when none is set. */
function contactCard() {
  const c = config.contact;
  const rows = [["窗口", c.window], ["电话", c.phone], ["时间", c.hours]].filter(([, v]) => v);
  if (!rows.length) return null;
  return el("section", { class: "contact", "aria-label": "人工咨询" },
    el("h3", {}, "人工咨询"),
    el("dl", {}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", { class: `contact-${k === "窗口" ? "window" : k === "电话" ? "phone" : "hours"}` }, v)])),
  );
}

/** The answer and its sources as plain text (copy). */
function answerWithSources(state) {
  const lines = state.citations.map((c) => {
    const src = sourceOf(c);
    return `[${citationNumber(c)}] 《${src.title || "未命名文件"}》 ${factsLine(src.facts).textContent}：“${(c.quote || "").trim()}”`;
  });
  return lines.length ? `${state.text.trim()}\n\n出处：\n${lines.join("\n")}` : state.text.trim();
}

function afterAnswer(state) {
  const parts = [];
  const answered = !state.abstained;
  const actions = el("div", { class: "answer-actions", role: "group", "aria-label": "对这条回答" });
  if (answered) {
    actions.append(copyButton(state));
    if (state.questionId) actions.append(qrButton(state, parts));
    actions.append(readAloudButton(state));
  }
  if (state.questionId) actions.append(...feedbackButtons(state, parts));
  if (actions.childElementCount) parts.unshift(actions);
  if (state.followUps && state.followUps.length) {
    parts.push(
      el("section", { class: "follow-ups", "aria-label": "您可能还想问" },
        el("h3", {}, "您可能还想问"),
        el("ul", {}, state.followUps.slice(0, 3).map((q) =>
          el("li", {}, el("button", { type: "button", class: "follow-up", onclick: () => ask(q) }, q)),
        )),
      ),
    );
  }
  return parts;
}

function copyButton(state) {
  const btn = actionButton("copy", "复制", { class: "act copy" });
  btn.addEventListener("click", async () => {
    const ok = await copyText(answerWithSources(state));
    btn.setLabel("copy", ok ? "已复制" : "复制失败");
    btn.dataset.copied = ok ? "1" : "0";
  });
  return btn;
}

/** 扫码带走: the server draws the QR code (answer and sources) for this question id. */
function qrButton(state, parts) {
  const figure = el("figure", { class: "qr", hidden: true });
  parts.push(figure);
  const btn = actionButton("qr", "扫码带走", { class: "act qr-btn", "aria-expanded": "false" });
  btn.addEventListener("click", async () => {
    if (!figure.hidden) {
      figure.hidden = true;
      btn.setAttribute("aria-expanded", "false");
      return;
    }
    figure.hidden = false;
    btn.setAttribute("aria-expanded", "true");
    if (figure.dataset.loaded === "1") return;
    clear(figure);
    figure.append(el("p", { class: "k-hint" }, "正在生成二维码……"));
    try {
      const blob = await requestBlob(`api/answers/${encodeURIComponent(state.questionId)}/qr.svg`);
      const img = el("img", { alt: "二维码：本条回答和出处", src: await blobToDataUrl(blob) });
      clear(figure);
      figure.append(img, el("figcaption", {}, "用手机扫一扫，把回答和出处带走"));
      figure.dataset.loaded = "1";
    } catch (err) {
      clear(figure);
      figure.append(el("p", { class: "notice-error", role: "alert" }, `二维码暂时无法生成。${friendlyError(err)}`));
    }
  });
  return btn;
}

function feedbackButtons(state, parts) {
  const thanks = el("p", { class: "feedback-thanks", role: "status", hidden: true });
  const reasonBox = el("form", { class: "feedback-reason", hidden: true, "aria-label": "没帮助的原因（可选）" });
  parts.push(thanks, reasonBox);
  const up = actionButton("up", "有帮助", { class: "act fb fb-up", "aria-pressed": "false" });
  const down = actionButton("down", "没帮助", { class: "act fb fb-down", "aria-pressed": "false" });

  const send = async (rating, reason = "") => {
    up.setAttribute("aria-pressed", String(rating === "up"));
    down.setAttribute("aria-pressed", String(rating === "down"));
    try {
      await requestJSON("api/feedback", { method: "POST", body: { question_id: state.questionId, rating, reason }, timeout: 10000 });
      thanks.textContent = reason || rating === "up" ? "谢谢您的反馈！" : "谢谢！如愿意，可以告诉我们原因：";
      thanks.dataset.saved = rating;
    } catch (err) {
      thanks.textContent = `反馈没有发送成功。${friendlyError(err)}`;
      thanks.dataset.saved = "";
    }
    thanks.hidden = false;
  };

  const other = el("input", { type: "text", class: "reason-text", maxlength: "200", placeholder: "其他原因（可不填）", "aria-label": "其他原因" });
  let chosen = "";
  const chips = FEEDBACK_REASONS.map((r) =>
    el("button", {
      type: "button",
      class: "act reason",
      "aria-pressed": "false",
      onclick: (e) => {
        chosen = chosen === r ? "" : r;
        for (const chip of reasonBox.querySelectorAll(".reason")) chip.setAttribute("aria-pressed", String(chip === e.currentTarget && chosen === r));
      },
    }, r),
  );
  reasonBox.append(
    el("div", { class: "reasons" }, chips),
    el("div", { class: "reason-row" }, other, el("button", { type: "submit", class: "btn primary" }, "提交")),
  );
  reasonBox.addEventListener("submit", async (e) => {
    e.preventDefault();
    const reason = [chosen, other.value.trim()].filter(Boolean).join("；").slice(0, 200);
    reasonBox.hidden = true;
    await send("down", reason);
  });

  up.addEventListener("click", () => {
    reasonBox.hidden = true;
    send("up");
  });
  down.addEventListener("click", () => {
    reasonBox.hidden = false;
    send("down");
  });
  return [up, down];
}

// Read-aloud (适老化): only where the browser has a Chinese voice.
function zhVoice() {
  const synth = window.speechSynthesis;
  if (!synth || typeof synth.getVoices !== "function") return null;
  let voices = [];
  try {
    voices = synth.getVoices() || [];
  } catch {
    return null;
  }
  return voices.find((v) => /^(zh|cmn|yue)([-_]|$)/i.test(String((v && v.lang) || ""))) || null;
}

function stopSpeaking() {
  try {
    if (window.speechSynthesis) window.speechSynthesis.cancel();
  } catch {
    /* nothing is being read */
  }
  for (const b of document.querySelectorAll(".read-aloud[aria-pressed='true']")) {
    b.setAttribute("aria-pressed", "false");
    b.setLabel("speak", "朗读");
  }
}

function readAloudButton(state) {
  const btn = actionButton("speak", "朗读", { class: "act read-aloud", "aria-pressed": "false", hidden: !zhVoice() });
  btn.addEventListener("click", () => {
    const on = btn.getAttribute("aria-pressed") === "true";
    stopSpeaking();
    const voice = zhVoice();
    if (on || !voice) return;
    const utterance = new SpeechSynthesisUtterance(state.text.replace(MARKERS, ""));
    utterance.lang = voice.lang || "zh-CN";
    try {
      utterance.voice = voice;
    } catch {
      /* a voice object the engine does not know: the language picks one */
    }
    utterance.rate = 0.9;
    utterance.onend = () => {
      btn.setAttribute("aria-pressed", "false");
      btn.setLabel("speak", "朗读");
    };
    btn.setAttribute("aria-pressed", "true");
    btn.setLabel("stop", "停止朗读");
    window.speechSynthesis.speak(utterance);
  });
  return btn;
}

if (window.speechSynthesis && typeof window.speechSynthesis.addEventListener === "function") {
  // Voices often arrive after the page loads.
  window.speechSynthesis.addEventListener("voiceschanged", () => {
    const has = Boolean(zhVoice());
    for (const b of document.querySelectorAll(".read-aloud")) b.hidden = !has;
  });
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
  if (typeof data.hedged === "boolean") state.hedged = data.hedged;
  if (typeof data.question_id === "string") state.questionId = data.question_id;
  if (Array.isArray(data.follow_ups)) state.followUps = data.follow_ups.filter((q) => typeof q === "string");
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
  if (!isChinese(question)) {
    conversation.append(userNode, languageHint());
    main.scrollTop = Math.max(0, userNode.offsetTop - 12);
    return;
  }
  const bot = botBubble();
  conversation.append(userNode, bot.node);
  main.scrollTop = Math.max(0, userNode.offsetTop - 12);

  // Whole question/answer pairs only, as many as the server accepts.
  const keep = Math.max(0, config.maxHistory - (config.maxHistory % 2));
  const requestHistory = keep ? history.slice(-keep) : [];
  const state = { text: "", citations: [], abstained: false, hedged: false, related: [], complete: false, deltas: 0, questionId: "", followUps: [] };
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

// The documents and answers are Chinese: a question with letters but no Chinese character gets a
// hint in both languages instead of a certain "not found".
const CJK = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2fa1f}]/u;
const LETTERS = /\p{L}.*\p{L}/su;

function isChinese(text) {
  return CJK.test(text) || !LETTERS.test(text);
}

function languageHint() {
  return el("article", { class: "msg msg-bot hint", dataset: { kind: "hint" }, lang: "zh-CN" },
    el("div", { class: "badge" }, "请用中文提问"),
    el("p", { class: "answer" }, "本系统依据中文政策文件作答，请用中文输入您的问题，例如：“二手房还有贷款能过户吗？”"),
    el("p", { class: "answer en", lang: "en" }, "This service answers from Chinese policy documents only. Please type your question in Chinese, or ask the staff at the service window for help."),
  );
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
/** Fit the input to its text, or when empty to its whole placeholder (which may wrap at 特大). */
function autosize() {
  input.style.height = "auto";
  let needed = input.scrollHeight;
  if (!input.value && input.placeholder) {
    input.value = input.placeholder; // measured, never shown (no input event fires)
    needed = input.scrollHeight;
    input.value = "";
  }
  const border = input.offsetHeight - input.clientHeight;
  input.style.height = `${Math.min(needed + border, Math.max(window.innerHeight * 0.25, 0))}px`;
}

// Over-long text is cut at max_question_chars, and the visitor is told so.
const inputNote = $("input-note");
function limitInput() {
  const max = config.maxQuestionChars;
  if (input.value.length > max) {
    const caret = Math.min(input.selectionStart ?? max, max);
    input.value = input.value.slice(0, max);
    input.setSelectionRange(caret, caret);
    inputNote.textContent = `问题最多 ${max} 字，超出的部分已删去，请检查后再提问。`;
    inputNote.hidden = false;
  } else if (input.value.length < max) {
    inputNote.hidden = true;
  }
}
input.addEventListener("input", (e) => {
  if (!e.isComposing) limitInput();
  autosize();
});
input.addEventListener("compositionend", () => {
  limitInput();
  autosize();
});
window.addEventListener("resize", autosize);

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
  viewerMeta.append(factsLine(src.facts, { kind: true }));
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
  autosize();
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
  stopSpeaking();
  input.value = "";
  inputNote.hidden = true;
  setScale(1); // also re-fits the input at the standard size
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
    if (data.contact && typeof data.contact === "object") {
      for (const key of ["window", "phone", "hours"]) {
        const v = data.contact[key];
        config.contact[key] = typeof v === "string" ? v.trim() : "";
      }
    }
    limitInput();
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

// ------------------------------------------------------------------ offline shell ------------
// A service worker keeps this page, its script and styles, so a reload while the server is down
// shows the page with its retry card instead of the browser's error page.

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register(new URL("sw.js", document.baseURI)).catch(() => {
    /* not available here (e.g. storage blocked in a frame): the page works without it */
  });
}

autosize();
loadConfig();
document.body.dataset.ready = "1";
