"""The OpenAPI schema, adjusted to what the app really does: the error envelope for 422, optional
auth on the open routes, and the limits this process was configured with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from assistant.settings import Settings

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorResponse"}
# Operations that are open by default (kiosk): a bearer key is optional.
OPEN: dict[str, Any] = {"security": [{}]}


def _limit(schemas: dict[str, Any], model: str, field: str, **bounds: int) -> None:
    prop = schemas.get(model, {}).get("properties", {}).get(field)
    if prop is None:
        return
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") in ("string", "integer", "array"):
            branch.update(bounds)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema.get("paths", {}).values():
            for op in path.values():
                invalid = op.get("responses", {}).get("422")
                if invalid is not None:
                    invalid["content"] = {"application/json": {"schema": ENVELOPE_REF}}
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        _limit(schemas, "AskRequest", "question", maxLength=settings.max_question_chars)
        _limit(schemas, "AskRequest", "history", maxItems=settings.max_history_turns)
        _limit(schemas, "SearchRequest", "query", maxLength=settings.max_question_chars)
        _limit(schemas, "SearchRequest", "top_k", maximum=settings.max_top_k)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
