"""Receive a multipart upload as a stream: type checked from the part headers, size enforced as bytes
arrive, the file written under a generated name. The client's file name is display metadata only."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from assistant.errors import FileTooLarge, InvalidInput, UnsupportedFormat
from assistant.ingest.pipeline import SUPPORTED, document_id
from assistant.settings import Settings

from .jobs import StoredUpload, upload_root
from .schemas import clean_text

# Names of corpus files are relative paths, which never start with "/": an upload can share a
# name with no corpus file, whatever folders the corpus has.
UPLOAD_PREFIX = "/uploads/"
MAX_NAME_CHARS = 120
MAX_FIELD_BYTES = 1000
MAX_FIELDS = 10
# Multipart framing around the file: part headers, boundaries, the small text fields.
OVERHEAD = 64 * 1024
# After refusing an upload, read at most this much more of the body so the client sees the answer.
DRAIN_BYTES = 8 * 1024 * 1024
MAGIC = {".pdf": (b"%PDF", "a PDF"), ".docx": (b"PK\x03\x04", "a DOCX (zip) file")}

UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "TXT, MD, PDF, DOCX or HTML",
                        },
                        "title": {
                            "type": "string",
                            "maxLength": 200,
                            "description": "Display title (optional)",
                        },
                    },
                }
            }
        },
    }
}


def safe_filename(raw: str) -> str:
    """The last path component, without control characters, leading dots or surrounding blanks."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if len(name) > MAX_NAME_CHARS:
        stem, ext = os.path.splitext(name)
        name = stem[: MAX_NAME_CHARS - len(ext)] + ext
    return name


class _Receiver:
    """Callbacks for python-multipart's streaming parser."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.limit = settings.max_upload_bytes
        self.folder = folder
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.head = b""
        self.sha = hashlib.sha256()
        self.tmp: Path | None = None
        self._out: BinaryIO | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._field = b""
        self._value = b""
        self._part: str | None = None  # "file", "field" or "skip"
        self._name = ""
        self._data = bytearray()
        self.error: Exception | None = None

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def _add(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def on_part_begin(self) -> None:
        self._headers, self._part, self._data = [], None, bytearray()

    def on_header_end(self) -> None:
        self._headers.append((self._field.lower(), self._value))
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        disposition = next((v for k, v in self._headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options and self._name == "file":
            if self.filename is not None:
                raise InvalidInput("send one file per upload")
            self.filename = safe_filename(options[b"filename"].decode("utf-8", "replace"))
            ext = Path(self.filename).suffix.lower()
            if ext not in SUPPORTED:
                raise UnsupportedFormat(
                    f"unsupported file type {ext or '(none)'!r}; upload TXT, MD, PDF, DOCX or HTML"
                )
            self.folder.mkdir(parents=True, exist_ok=True)
            self.tmp = self.folder / f".incoming-{uuid.uuid4().hex}"
            self._out = self.tmp.open("wb")
            self._part = "file"
        elif b"filename" in options:
            self._part = "skip"  # files under other field names are ignored
        else:
            if len(self.fields) >= MAX_FIELDS:
                raise InvalidInput(f"too many form fields (at most {MAX_FIELDS})")
            self._part = "field"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._part == "file":
            assert self._out is not None
            self.size += len(chunk)
            if self.size > self.limit:
                raise FileTooLarge(f"file over the upload limit of {self.limit} bytes")
            if len(self.head) < 1024:
                self.head += chunk[: 1024 - len(self.head)]
            self.sha.update(chunk)
            self._out.write(chunk)
        elif self._part == "field":
            self._data += chunk
            if len(self._data) > MAX_FIELD_BYTES:
                raise InvalidInput(f"form field {self._name!r} is too long")

    def on_part_end(self) -> None:
        if self._part == "file" and self._out is not None:
            self._out.close()
            self._out = None
        elif self._part == "field":
            self.fields[self._name] = self._data.decode("utf-8", "replace")

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


async def _drain(request: Request) -> None:
    """Read (and drop) what is left of the body, up to a bound, so the client can read our answer."""
    seen = 0
    with contextlib.suppress(Exception):
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > DRAIN_BYTES:
                break


async def receive_upload(request: Request, settings: Settings) -> StoredUpload:
    """Stream the request's `file` part to the upload folder; raise 413/415/422 as soon as we can tell."""
    content_type = request.headers.get("content-type", "")
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(415, "send the file as multipart/form-data with a `file` field")
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + OVERHEAD:
        raise HTTPException(
            413, f"file over the upload limit of {limit} bytes", headers={"Connection": "close"}
        )

    folder = upload_root(settings)
    rx = _Receiver(settings, folder)
    try:
        parser = MultipartParser(params[b"boundary"], rx.callbacks(), max_size=limit + OVERHEAD)  # type: ignore[arg-type]
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if (
                total > limit + OVERHEAD
            ):  # whatever the parts are, the body as a whole is bounded too
                raise FileTooLarge(f"file over the upload limit of {limit} bytes")
            parser.write(chunk)
        parser.finalize()
    except (FileTooLarge, UnsupportedFormat, InvalidInput):
        rx.discard()
        await _drain(request)
        raise
    except FormParserError as exc:
        rx.discard()
        if "max_size" in str(exc) or "exceed" in str(exc).lower():
            raise FileTooLarge(f"file over the upload limit of {limit} bytes") from exc
        raise InvalidInput("malformed multipart body") from exc
    except BaseException:
        rx.discard()
        raise
    if rx.filename is None or rx.tmp is None:
        rx.discard()
        raise InvalidInput("the form has no `file` field with a file in it")
    ext = Path(rx.filename).suffix.lower()
    if rx.size == 0:
        rx.discard()
        raise InvalidInput("the file is empty")
    magic = MAGIC.get(ext)
    if magic and magic[0] not in rx.head:
        rx.discard()
        raise UnsupportedFormat(f"the file's content is not {magic[1]}")

    name = UPLOAD_PREFIX + rx.filename
    doc_id = document_id(name)
    metadata = {"filename": rx.filename}
    title = " ".join(clean_text(rx.fields.get("title", "")).split())[:200]
    if title:
        metadata["title"] = title
    final = folder / f"{doc_id}-{rx.sha.hexdigest()[:16]}{ext}"
    metadata["upload"] = final.name
    os.replace(rx.tmp, final)
    return StoredUpload(
        path=final, name=name, filename=rx.filename, metadata=metadata, document_id=doc_id
    )
