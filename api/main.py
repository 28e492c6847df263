"""The FastAPI app: `uvicorn api.main:app`, or `policy-assistant serve [--index DIR]`.

The index loads once, in the background, when the app starts; until then every route that needs it
answers 503 and /readyz says why. Tests and embedders build their own app with `create_app(settings)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from assistant.settings import Settings, get_settings

from .deps import AssistantFactory, load_assistant
from .errors import install_error_handlers
from .feedback import FEEDBACK_FILE, FeedbackStore
from .jobs import JobRegistry
from .middleware import BodyLimit, is_upload
from .openapi import install_openapi
from .routes import ask, chat, documents, feedback, health, pages, precedents, search
from .shared import SHARED_FILE, JobStore, RateLimiter, SharedState

DESCRIPTION = """Cited answers about Chinese government policy documents, offline.

Every error is `{"ok": false, "error": "...", "status": N}`. Ask and search are open unless
`PA_OPEN_API_KEY` is set; changing documents needs `Authorization: Bearer <PA_API_KEY>`.
"""


def _default_factory(settings: Settings) -> object:
    from assistant.service import Assistant

    return Assistant(settings)


async def load_and_prime(app: FastAPI) -> None:
    """Load the index, then check the kiosk's suggested questions against it."""
    await load_assistant(app)
    bot = app.state.assistant
    if bot is not None:
        # A worker stopped mid-ingest leaves documents searchable by their words only.
        if bot.embedder is not None and (pending := await asyncio.to_thread(bot.index.pending)):
            app.state.jobs.submit_vectors(len(pending))
        await asyncio.to_thread(pages.prime, bot)


def create_app(
    settings: Settings | None = None, *, assistant_factory: AssistantFactory | None = None
) -> FastAPI:
    """Build the app; the index is loaded once at startup and shared by every request."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jobs.open()
        loading = asyncio.create_task(load_and_prime(app))
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loading
            app.state.jobs.shutdown()

    app = FastAPI(
        title="policy-assistant", version="0.1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.assistant = None
    app.state.load_error = None
    app.state.assistant_factory = assistant_factory or _default_factory
    shared = SharedState(settings.index_dir / SHARED_FILE)
    app.state.jobs = JobRegistry(settings, JobStore(shared))
    app.state.rate_limiter = RateLimiter(shared, settings.rate_limit_per_minute)
    app.state.feedback = FeedbackStore(
        settings.index_dir / FEEDBACK_FILE, settings.log_retention_days
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, exempt=is_upload)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        )
    for module in (health, search, ask, chat, documents, feedback, precedents, pages):
        app.include_router(module.router)
    install_openapi(app, settings)
    return app


def __getattr__(name: str) -> FastAPI:
    """`uvicorn api.main:app` builds the app from PA_* settings when asked, never at import."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
