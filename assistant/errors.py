"""One small error hierarchy; the CLI and the API turn it into one message or envelope."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant reports to a user."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AssistantError):
    """The request itself is malformed (too long, bad parameter)."""

    status = 422


class NotFound(AssistantError):
    """A document or job that does not exist."""

    status = 404


class IngestError(AssistantError):
    """A file could not be turned into a document."""

    status = 422


class UnsupportedFormat(IngestError):
    """The file type is not one we parse."""

    status = 415


class FileTooLarge(IngestError):
    """The file (or what it unpacks to) is over the configured limit."""

    status = 413


class IndexNotReady(AssistantError):
    """No index has been built yet, or it is still loading."""

    status = 503


class GenerationError(AssistantError):
    """The optional LLM failed; callers fall back to the extractive answer."""

    status = 502
