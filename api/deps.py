"""Typed dependencies shared by the routes: settings, the shared Assistant, jobs, auth and rate limits."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.errors import AssistantError, IndexNotReady
from assistant.service import Assistant
from assistant.settings import Settings

from .jobs import JobRegistry
from .shared import RateLimiter, client_address

log = logging.getLogger("api")

AssistantFactory = Callable[[Settings], Assistant]


async def load_assistant(app: FastAPI) -> None:
    """Load the index in a worker thread; until it is loaded the app answers 503 (and /healthz 200)."""
    settings: Settings = app.state.settings
    factory: AssistantFactory = app.state.assistant_factory
    started = time.perf_counter()
    try:
        bot = await asyncio.to_thread(factory, settings)
    except AssistantError as exc:
        app.state.load_error = exc.message
        log.error("index failed to load: %s", exc.message)
        return
    except Exception as exc:  # anything else is a bug, but the process stays up to say so
        app.state.load_error = f"{type(exc).__name__}: {exc}"
        log.exception("index failed to load")
        return
    await asyncio.to_thread(warm_up, bot)
    app.state.assistant = bot
    app.state.jobs.attach(bot)
    snap = bot.index.snapshot
    log.info(
        "index loaded in %.1fs: %d documents, %d chunks, embedder %s",
        time.perf_counter() - started,
        len(snap.documents),
        len(snap.chunks),
        bot.index.embedder_name,
    )


def warm_up(bot: Assistant) -> None:
    """One throwaway question loads the tokenizer dictionaries and the embedder, so the first
    visitor does not wait for them; failures here are left for real requests to report."""
    try:
        bot.ask("预热")
    except Exception:
        log.warning("warm-up question failed", exc_info=True)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_assistant(request: Request) -> Assistant:
    bot = request.app.state.assistant
    if bot is None:
        error = request.app.state.load_error
        raise IndexNotReady(
            f"the index failed to load: {error}"
            if error
            else "the index is still loading; try again shortly"
        )
    return bot


def get_jobs(request: Request) -> JobRegistry:
    return request.app.state.jobs


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]

# ----- auth ---------------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="policy-assistant"'}


def same_key(given: str, expected: str) -> bool:
    """Constant-time comparison (on bytes, so non-ASCII keys never raise)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_admin(settings: SettingsDep, creds: Credentials) -> None:
    """Document management: disabled without PA_API_KEY, else the bearer key must match."""
    if not settings.api_key:
        raise HTTPException(403, "document management disabled: set PA_API_KEY")
    if creds is None or not same_key(creds.credentials, settings.api_key):
        raise HTTPException(
            401, "missing or wrong API key (Authorization: Bearer <key>)", headers=CHALLENGE
        )


def may_read(settings: Settings, creds: HTTPAuthorizationCredentials | None) -> bool:
    """Open unless PA_OPEN_API_KEY is set; then that key or the admin key."""
    if not settings.open_api_key:
        return True
    return creds is not None and (
        same_key(creds.credentials, settings.open_api_key)
        or bool(settings.api_key and same_key(creds.credentials, settings.api_key))
    )


def require_reader(settings: SettingsDep, creds: Credentials) -> None:
    """Ask, search and reading documents: open unless PA_OPEN_API_KEY is set (the admin key also works)."""
    if may_read(settings, creds):
        return
    raise HTTPException(
        401, "missing or wrong API key (Authorization: Bearer <key>)", headers=CHALLENGE
    )


# ----- rate limit ---------------------------------------------------------------------------


def rate_limit(request: Request) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else "?"
    forwarded = request.headers.get("x-forwarded-for", "")
    wait = limiter.check(client_address(peer, forwarded, settings.trusted_proxies))
    if wait is not None:
        raise HTTPException(
            429,
            f"too many requests: at most {limiter.per_minute} a minute",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )


Reader = [Depends(require_reader), Depends(rate_limit)]
Admin = [Depends(require_admin)]
