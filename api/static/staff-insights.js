// Staff page: 未解决的问题 — what visitors could not get answered (GET /api/insights), for an admin.
//
// A small panel under the header, shown only while this tab holds the admin key (staff.js keeps it
// in sessionStorage and toggles #admin-state when it changes). It lists the most frequent declined,
// hedged and 👎 (没帮助) questions of a chosen period, near-duplicates grouped by the server, with
// the 👍/👎 counts, and exports the question log as CSV (GET /api/feedback/export).
import { ApiError, clear, el, friendlyError, requestBlob, requestJSON } from "./common.js";

const ADMIN_STORE = "policy-assistant.admin-key"; // the same key staff.js keeps
const PERIODS = [
  [7, "近 7 天"],
  [30, "近 30 天"],
  [90, "近 90 天"],
  [365, "近一年"],
  [0, "全部"],
];
const LISTS = [
  ["declined", "未能回答", "文件中没有找到依据、系统婉拒的问题。"],
  ["hedged", "只找到相关内容", "系统没有直接答案、只给出最相关段落的问题。"],
  ["disliked", "被评为“没帮助”", "群众看了回答后点了“没帮助”的问题，附原因。"],
];

function adminKey() {
  try {
    return sessionStorage.getItem(ADMIN_STORE) || "";
  } catch {
    return "";
  }
}

const period = el("select", { id: "ins-days", "aria-label": "时间段" },
  PERIODS.map(([days, label]) => el("option", { value: String(days), selected: days === 30 }, label)),
);
const exportBtn = el("button", { type: "button", class: "btn ins-export", id: "ins-export" }, "导出 CSV");
const summaryCounts = el("span", { class: "ins-summary", id: "ins-summary" });
const counts = el("p", { class: "ins-counts", id: "ins-counts", role: "status" });
const lists = el("div", { class: "ins-lists", id: "ins-lists" });
const panel = el("details", { class: "ins-panel", id: "insights", hidden: true },
  el("summary", {}, el("span", { class: "ins-title" }, "未解决的问题"), summaryCounts),
  el("div", { class: "ins-body" },
    el("div", { class: "ins-tools" },
      el("label", {}, "时间段 ", period),
      exportBtn,
      el("span", { class: "ins-note" }, "相近的问法已合并；记录不含任何个人信息。"),
    ),
    counts,
    lists,
  ),
);

let loading = 0;

function groupItem(group, withReasons) {
  const variants = group.variants || [];
  return el("li", { class: "ins-item" },
    el("span", { class: "ins-count", title: "提问次数" }, `${group.count}次`),
    el("span", { class: "ins-q" },
      el("span", { class: "ins-text" }, group.question),
      variants.length ? el("span", { class: "ins-variants" }, `相近问法：${variants.slice(0, 3).join("；")}${variants.length > 3 ? ` 等${variants.length}种` : ""}`) : null,
      withReasons && group.reasons && group.reasons.length ? el("span", { class: "ins-reasons" }, `原因：${group.reasons.join("；")}`) : null,
    ),
  );
}

function render(data) {
  const o = data.outcomes || {};
  const text = `共 ${data.questions} 个提问：已回答 ${o.answered || 0}，只找到相关内容 ${o.hedged || 0}，未能回答 ${o.declined || 0}；评价“有帮助” ${data.up}，“没帮助” ${data.down}`;
  counts.textContent = text;
  summaryCounts.textContent = `未能回答 ${o.declined || 0} · 有帮助 ${data.up} · 没帮助 ${data.down}`;
  clear(lists);
  for (const [key, title, help] of LISTS) {
    const groups = data[key] || [];
    lists.append(
      el("section", { class: "ins-list", dataset: { list: key } },
        el("h3", {}, title, el("span", { class: "ins-help" }, help)),
        groups.length
          ? el("ol", {}, groups.map((g) => groupItem(g, key === "disliked")))
          : el("p", { class: "ins-empty" }, "这段时间没有。"),
      ),
    );
  }
}

async function load() {
  const key = adminKey();
  if (!key) return;
  const mine = ++loading;
  counts.textContent = "正在统计……";
  try {
    const data = await requestJSON(`api/insights?days=${period.value}`, { auth: key, timeout: 15000 });
    if (mine === loading) render(data);
  } catch (err) {
    if (mine !== loading) return;
    clear(lists);
    counts.textContent = err instanceof ApiError && err.status === 401 ? "管理密钥无效，请重新登录。" : `统计暂时无法读取。${friendlyError(err)}`;
  }
}

exportBtn.addEventListener("click", async () => {
  const key = adminKey();
  if (!key) return;
  exportBtn.disabled = true;
  try {
    const blob = await requestBlob(`api/feedback/export?format=csv&days=${period.value}`, { auth: key, timeout: 30000 });
    const link = el("a", {
      href: URL.createObjectURL(blob),
      download: `未解决的问题-${period.value === "0" ? "全部" : `近${period.value}天`}.csv`,
      class: "offscreen",
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (err) {
    counts.textContent = `导出失败。${friendlyError(err)}`;
  } finally {
    exportBtn.disabled = false;
  }
});
period.addEventListener("change", load);

function sync() {
  const on = Boolean(adminKey());
  const was = !panel.hidden;
  panel.hidden = !on;
  if (on && !was) load();
  if (!on) {
    panel.open = false;
    clear(lists);
    counts.textContent = "";
    summaryCounts.textContent = "";
  }
}

function mount() {
  const header = document.querySelector(".s-header");
  if (!header) return;
  header.after(panel);
  const state = document.getElementById("admin-state");
  // staff.js shows #admin-state while it holds the admin key: follow it.
  if (state) new MutationObserver(sync).observe(state, { attributes: true, attributeFilter: ["hidden"] });
  panel.addEventListener("toggle", () => {
    if (panel.open) load();
  });
  sync();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount, { once: true });
else mount();
