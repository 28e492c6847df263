"""OCR of page images with rapidocr (its Chinese models ship inside the package, so it works offline)."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
from PIL import Image

_engine: Any = None
_engine_lock = threading.Lock()
# onnxruntime sessions are not documented as re-entrant; one engine, one caller at a time.
_run_lock = threading.Lock()


def _get_engine() -> Any:
    """The rapidocr engine, created on first use (loading the models takes about half a second)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from rapidocr_onnxruntime import RapidOCR

                _engine = RapidOCR()
        return _engine


def _group_lines(boxes: list[tuple[float, float, float, str]]) -> list[str]:
    """Group (top, bottom, left, text) boxes that share a baseline into lines, read left to right."""
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes, key=lambda b: (b[0], b[2])):
        top, bottom, _, _ = box
        if lines:
            last = lines[-1]
            l_top = min(b[0] for b in last)
            l_bottom = max(b[1] for b in last)
            overlap = min(bottom, l_bottom) - max(top, l_top)
            if overlap > 0.5 * min(bottom - top, l_bottom - l_top):
                last.append(box)
                continue
        lines.append([box])
    return [" ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines]


def ocr_image(image: Image.Image) -> str:
    """Recognised text of one image, one detected line per output line ("" when nothing is found)."""
    with warnings.catch_warnings():
        # Big scans trip PIL's decompression-bomb warning; they are our own pages, not an attack.
        warnings.simplefilter("ignore")
        rgb = image.convert("RGB")
        if min(rgb.size) < 8:
            return ""
        array = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])  # rapidocr expects OpenCV's BGR
        engine = _get_engine()
        with _run_lock:
            result, _ = engine(array)
    if not result:
        return ""
    boxes: list[tuple[float, float, float, str]] = []
    for points, text, _score in result:
        text = str(text).strip()
        if not text:
            continue
        ys = [float(p[1]) for p in points]
        xs = [float(p[0]) for p in points]
        boxes.append((min(ys), max(ys), min(xs), text))
    return "\n".join(_group_lines(boxes))
