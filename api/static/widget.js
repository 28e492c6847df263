/*
 * policy-assistant embeddable widget. On any allowed page:
 *
 *   <script src="https://assistant.example/widget.js" data-label="政策问答" data-position="right" async></script>
 *
 * adds a floating button that opens the assistant (the kiosk chat, ?embed=1) in an iframe.
 * Everything lives in one custom element with a shadow root: no global CSS, no global variables.
 * data-label: button text; data-title: panel title; data-position: "right" (default) or "left";
 * data-color: "#rrggbb"; data-open="true": start opened.
 * data-key: the access key when the server sets PA_OPEN_API_KEY. It is handed to the frame in the
 * URL fragment (never sent to a server), but it is readable by anyone who views the host page:
 * use it only on pages that are themselves access-controlled (an intranet, a locked kiosk).
 */
(() => {
  "use strict";
  // Filled in by the server from settings.cors_origins when served at /widget.js.
  const ALLOWED = /*PA_ALLOWED_ORIGINS*/[];

  const script = document.currentScript;
  if (!script || !script.src) return;
  const base = new URL(script.src, location.href);
  const serverOrigin = base.origin;
  const hostOrigin = location.origin;
  if (!(hostOrigin === serverOrigin || ALLOWED.includes("*") || ALLOWED.includes(hostOrigin))) {
    console.warn(`[policy-assistant] widget not shown: ${hostOrigin} is not an allowed origin (PA_CORS_ORIGINS).`);
    return;
  }

  const data = script.dataset;
  const label = (data.label || "政策问答").slice(0, 20);
  const title = (data.title || "政策问答助手").slice(0, 40);
  const side = data.position === "left" ? "left" : "right";
  const color = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#1f5fa8";
  const pageUrl = new URL("./?embed=1", base).toString() + (data.key ? `#key=${encodeURIComponent(data.key)}` : "");
  const TAG = "policy-assistant-widget";

  const css = `
    :host { all: initial; position: fixed; ${side}: 20px; bottom: 20px; z-index: 2147483000;
            font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; font-size: 16px; }
    .launcher { display: inline-flex; align-items: center; gap: 8px; border: 0; cursor: pointer;
                min-height: 52px; padding: 0 22px; border-radius: 26px; background: ${color}; color: #fff;
                font-weight: 600; font-size: 17px; line-height: 1; font-family: inherit; box-shadow: 0 6px 20px rgba(0,0,0,.25); }
    .launcher:focus-visible, .close:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
    .launcher svg { width: 22px; height: 22px; fill: currentColor; }
    .panel { position: fixed; ${side}: 20px; bottom: 86px; width: min(420px, calc(100vw - 40px));
             height: min(680px, calc(100vh - 110px)); display: flex; flex-direction: column; overflow: hidden;
             background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.3); }
    .panel[hidden] { display: none; }
    .bar { display: flex; align-items: center; justify-content: space-between; padding: 4px 6px 4px 16px;
           background: ${color}; color: #fff; font-weight: 600; font-size: 15px; }
    .close { border: 0; background: transparent; color: #fff; font: inherit; font-size: 15px; cursor: pointer;
             min-width: 44px; min-height: 44px; padding: 0 10px; border-radius: 6px; }
    .close:hover { background: rgba(255,255,255,.18); }
    iframe { flex: 1 1 auto; width: 100%; border: 0; display: block; background: #f4f6f9; }
    @media (max-width: 480px) {
      .panel { ${side}: 0; bottom: 0; width: 100vw; height: 100vh; border-radius: 0; }
    }
  `;

  function mount() {
    if (document.querySelector(TAG)) return; // included twice: one widget is enough
    const host = document.createElement(TAG);
    const root = host.attachShadow({ mode: "open" });

    const style = document.createElement("style");
    style.textContent = css;

    const launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = "launcher";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "pa-panel");
    const svgNS = "http://www.w3.org/2000/svg";
    const icon = document.createElementNS(svgNS, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(svgNS, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z");
    icon.append(path);
    const text = document.createElement("span");
    text.textContent = label;
    launcher.append(icon, text);

    const panel = document.createElement("div");
    panel.className = "panel";
    panel.id = "pa-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", title);
    const bar = document.createElement("div");
    bar.className = "bar";
    const barTitle = document.createElement("span");
    barTitle.textContent = title;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "close";
    close.textContent = "关闭";
    close.setAttribute("aria-label", "关闭政策问答");
    bar.append(barTitle, close);
    panel.append(bar);

    let frame = null;
    const open = () => {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.title = title;
        frame.src = pageUrl;
        frame.setAttribute("referrerpolicy", "origin");
        panel.append(frame);
      }
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      frame.focus();
    };
    const hide = () => {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    };
    launcher.addEventListener("click", () => (panel.hidden ? open() : hide()));
    close.addEventListener("click", hide);
    root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !panel.hidden) hide();
    });

    root.append(style, panel, launcher);
    document.body.append(host);
    if (data.open === "true") open();
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
