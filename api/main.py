"""The FastAPI app: `uvicorn api.main:app`, or `policy-assistant serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from assistant.settings import Settings, get_settings

from .routes import ask, chat, documents, health, pages, search


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the index is loaded once at startup and shared by every request."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from .deps import load_assistant

        await load_assistant(app)
        yield

    app = FastAPI(title="policy-assistant", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.assistant = None
    for module in (health, search, ask, chat, documents, pages):
        app.include_router(module.router)
    return app


app = create_app()
