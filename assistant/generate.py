"""Optional LLM generation behind one seam: `Generator.generate(messages)`."""

from __future__ import annotations

from typing import Protocol

from .settings import Settings


class Generator(Protocol):
    """Writes a reply to chat messages ([{"role": ..., "content": ...}])."""

    name: str

    def generate(self, messages: list[dict[str, str]]) -> str: ...


def make_generator(settings: Settings) -> Generator | None:
    """An OpenAI-compatible client when an endpoint is configured, else None (extractive answers)."""
    if not settings.llm_base_url:
        return None
    raise NotImplementedError("LLM generation lands with issue (2/5)")
