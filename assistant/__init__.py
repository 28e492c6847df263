"""policy-assistant: cited answers about Chinese government policy documents, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.service import Assistant

__all__ = ["Assistant"]


def __getattr__(name: str) -> Any:
    # Importing the package stays cheap; the heavy stack loads when Assistant is first used.
    if name == "Assistant":
        from assistant.service import Assistant

        return Assistant
    raise AttributeError(name)
