"""Routes: the web pages — kiosk chat (`/`), staff search (`/staff`), the embeddable `/widget.js`,
and the kiosk's service worker (`/sw.js`, which keeps an offline copy of the page).

Plain HTML, CSS and JS modules from api/static/, no build step and no CDN. Also the small JSON the
pages need beyond the API: `/api/page-config` (idle reset, limits, suggested questions) and
`/api/suggestions` (questions drawn from the indexed documents' headings).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from assistant.settings import Settings
from assistant.text.zh import CN_NUM

from ..deps import Credentials, may_read

router = APIRouter()

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
ORIGIN_RE = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(?::\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$"
)
WIDGET_PLACEHOLDER = "/*PA_ALLOWED_ORIGINS*/[]"


# ----------------------------------------------------------------------------- headers ---------


def allowed_origins(settings: Settings) -> list[str]:
    """The configured embedding origins that are well-formed (anything else is ignored)."""
    out: list[str] = []
    for origin in settings.cors_origins:
        origin = origin.strip().rstrip("/")
        if (origin == "*" or ORIGIN_RE.match(origin)) and origin not in out:
            out.append(origin)
    return out


def page_headers(frame_ancestors: list[str]) -> dict[str, str]:
    """A strict CSP (same-origin scripts, styles and fetches; no inline code) plus who may frame us."""
    ancestors = "*" if "*" in frame_ancestors else " ".join(["'self'", *frame_ancestors])
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


def _page(name: str, headers: dict[str, str]) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=MEDIA_TYPES[".html"], headers=headers)


# ----------------------------------------------------------------------------- pages -----------


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def kiosk(request: Request) -> FileResponse:
    """The kiosk chat; `?embed=1` is the compact variant the widget frames (allowed origins only)."""
    settings: Settings = request.app.state.settings
    return _page("index.html", page_headers(allowed_origins(settings)))


@router.api_route("/staff", methods=["GET", "HEAD"], include_in_schema=False)
def staff(request: Request) -> FileResponse:
    """Staff precedent search; never framed by other sites."""
    return _page("staff.html", page_headers([]))


@router.get("/widget.js", include_in_schema=False)
def widget(request: Request) -> Response:
    """The embed script, with the origin allowlist (settings.cors_origins) baked in."""
    settings: Settings = request.app.state.settings
    source = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    source = source.replace(WIDGET_PLACEHOLDER, json.dumps(allowed_origins(settings)), 1)
    return Response(
        source,
        media_type=MEDIA_TYPES[".js"],
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """The kiosk's service worker, from the app root so its scope covers the page (offline shell)."""
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type=MEDIA_TYPES[".js"],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/static/{path:path}", include_in_schema=False)
def static(path: str) -> FileResponse:
    """Files under api/static/ (no directory listing, nothing outside the folder)."""
    target = (STATIC_DIR / path).resolve()
    if (
        not target.is_relative_to(STATIC_DIR)
        or not target.is_file()
        or any(part.startswith(".") for part in target.relative_to(STATIC_DIR).parts)
        or target.suffix not in MEDIA_TYPES
    ):
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(
        target,
        media_type=MEDIA_TYPES[target.suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


# ----------------------------------------------------------------------------- suggestions -----

NUMBERING_RE = re.compile(
    rf"^(?:第[{CN_NUM}\d]+[编章节条](?:之[{CN_NUM}]+)?"
    rf"|[{CN_NUM}]+、|[（(][{CN_NUM}\d]+[）)]|\d+[.、．](?!\d))\s*"
)
BYLINE_RE = re.compile(r"^(记者|通讯员|编辑|作者|来源|发布|文号|索引号|责任编辑)")
NEWS_TITLE_RE = re.compile(r"简报|专刊|动态|信息|快讯|新闻|通讯|周报|月报|工作情况")
MIN_PHRASE, MAX_PHRASE = 4, 30


def heading_phrase(heading: str, title: str = "") -> str:
    """The usable topic of a heading: numbering stripped; for "slogan  topic" headings the topic."""
    text = heading.strip()
    if not text or text == title.strip() or BYLINE_RE.match(text):
        return ""
    text = NUMBERING_RE.sub("", text).strip()
    parts = [p for p in re.split(r"\s+", text) if p]
    if len(parts) > 1:
        # Newsletter headings pair a slogan with the topic: "当好靠谱“店小二” 外资项目用地“优供快供”".
        # The topic is the longer part (the later one on a tie).
        text = max(reversed(parts), key=len)
    text = text.strip("：:。；;，, ")
    if not (MIN_PHRASE <= len(text) <= MAX_PHRASE):
        return ""
    if (
        any(ch in text for ch in "，。；！？,;!?")
        or sum(ch.isdigit() for ch in text) > len(text) // 2
    ):
        return ""
    return text


def as_question(phrase: str, title: str) -> str:
    """Turn a heading phrase into a question a visitor would ask."""
    if NEWS_TITLE_RE.search(title):
        return f"{phrase}，具体是怎么做的？"
    if re.search(r"(规定|办法|细则|要求|条件|程序|流程|标准)$", phrase):
        return f"{phrase}有哪些内容？"
    return f"关于{phrase}有哪些规定？"


def answered(bot: Any, question: str) -> bool:
    """The question gets a cited answer that is not hedged: only such questions are suggested."""
    try:
        a = bot.ask(question)
    except Exception:  # a suggestion that errors is simply not shown
        return False
    return bool(a.citations) and not a.abstained and not a.hedged


def visitor_questions(documents: list[Any]) -> list[str]:
    """The questions written for each document (its sidecar's `questions`), spread over them."""
    lists = [
        [q.strip() for q in d.metadata.get("questions", "").splitlines() if q.strip()]
        for d in documents
    ]
    out: list[str] = []
    for rank in range(max((len(q) for q in lists), default=0)):
        out.extend(q[rank] for q in lists if rank < len(q))
    return out


def checked_suggestions(bot: Any, limit: int = 6) -> list[str]:
    """Suggestions a visitor can rely on: the documents' own questions first, then questions from
    their headings; each is asked once and kept only when it gets a cited, unhedged answer."""
    snap = bot.index.snapshot
    documents = list(snap.documents.values())
    candidates = visitor_questions(documents) + build_suggestions(
        documents, list(snap.chunks), limit * 2
    )
    out: list[str] = []
    for q in dict.fromkeys(candidates):
        if len(out) >= limit:
            break
        if answered(bot, q):
            out.append(q)
    return out


def build_suggestions(documents: list[Any], chunks: list[Any], limit: int = 6) -> list[str]:
    """Suggested questions from the documents' headings, spread over the documents.

    `documents`: records with id and title; `chunks`: passages with document_id and heading_path,
    in document order. Each passage votes for its most specific usable heading; the headings with
    the most passages (the substantial sections) come first, taken from each document in turn.
    """
    titles = {d.id: d.title or "" for d in documents}
    # per document: phrase -> [passages under it, position of the first]
    votes: dict[str, dict[str, list[int]]] = {d.id: {} for d in documents}
    for position, chunk in enumerate(chunks):
        doc_id = chunk.document_id
        if doc_id not in votes:
            continue
        for heading in reversed(list(chunk.heading_path or [])):
            phrase = heading_phrase(heading, titles.get(doc_id, ""))
            if phrase:
                entry = votes[doc_id].setdefault(phrase, [0, position])
                entry[0] += 1
                break
    per_doc: list[list[str]] = []
    seen: set[str] = set()
    for doc_id, phrases in votes.items():
        title = titles.get(doc_id, "")
        fresh = {p: v for p, v in phrases.items() if p not in seen}
        seen.update(fresh)
        ranked = sorted(fresh.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        questions = [as_question(p, title) for p, _ in ranked]
        if not questions and title:
            questions = [f"《{title}》主要讲了什么？"]
        if questions:
            per_doc.append(questions)
    # Round robin over the documents, best sections first, until the limit is reached.
    out: list[str] = []
    for rank in range(max((len(q) for q in per_doc), default=0)):
        for questions in per_doc:
            if rank < len(questions) and len(out) < limit:
                out.append(questions[rank])
    return out


def suggestions_for(
    request: Request, creds: HTTPAuthorizationCredentials | None, limit: int = 6
) -> tuple[list[str], bool]:
    """(questions, ready); cached per index generation. Headings are document content, so a closed
    deployment (PA_OPEN_API_KEY) shows them only to a browser that holds the key."""
    bot = getattr(request.app.state, "assistant", None)
    if bot is None:
        return [], False
    if not may_read(request.app.state.settings, creds):
        return [], True
    try:
        # Asked once per index generation (the Assistant keeps the view), not per page load.
        return bot.view(f"suggestions:{limit}", lambda _: checked_suggestions(bot, limit)), True
    except Exception:  # index not loaded yet: the page retries
        return [], False


def prime(bot: Any, limit: int = 6) -> None:
    """Check the start screen's suggestions once the index is loaded (a background job at start),
    so the first visitor does not wait for them."""
    try:
        bot.view(f"suggestions:{limit}", lambda _: checked_suggestions(bot, limit))
    except Exception:  # the page asks again, and reports what fails then
        return


@router.get("/api/suggestions", tags=["pages"])
def suggestions(request: Request, creds: Credentials, limit: int = 6) -> dict[str, Any]:
    """Questions for the kiosk's start screen, drawn from the indexed documents' headings."""
    questions, ready = suggestions_for(request, creds, max(1, min(limit, 20)))
    return {"suggestions": questions, "ready": ready}


@router.get("/api/page-config", tags=["pages"])
def page_config(request: Request, creds: Credentials) -> dict[str, Any]:
    """What the kiosk page needs at start: idle reset time, request limits, the service hall's
    contact (shown with a declined answer) and suggested questions."""
    settings: Settings = request.app.state.settings
    questions, ready = suggestions_for(request, creds)
    return {
        "idle_reset_seconds": settings.idle_reset_seconds,
        "max_history_turns": settings.max_history_turns,
        "max_question_chars": settings.max_question_chars,
        "contact": {
            "window": settings.contact_window,
            "phone": settings.contact_phone,
            "hours": settings.contact_hours,
        },
        "suggestions": questions,
        "ready": ready,
    }
