"""Typed dependencies shared by the routes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from assistant.errors import IndexNotReady
from assistant.service import Assistant
from assistant.settings import Settings


async def load_assistant(app: FastAPI) -> None:
    """Load the index in a worker thread so startup never blocks the event loop."""
    settings: Settings = app.state.settings
    app.state.assistant = await asyncio.to_thread(Assistant, settings)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_assistant(request: Request) -> Assistant:
    bot = request.app.state.assistant
    if bot is None:
        raise IndexNotReady("the index is still loading; try again shortly")
    return bot  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
