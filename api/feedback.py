"""The question log and visitors' 👍/👎 feedback, kept in one SQLite file in the index folder.

Each `/api/ask` is logged with its question (phone, ID-card and other long numbers and e-mail
addresses masked), its outcome (answered, hedged, declined, clarify), the time and the text a
visitor can take home by QR code. Nothing about the visitor is stored: no address, no browser, no
session. Feedback rows point at a logged question by the id the ask response carries; one rating
per question, the latest wins. Rows older than the retention period are deleted.

`FeedbackStore(path)` opens the file lazily (the app is built at import time), one connection per
call, so any number of threads and worker processes can share it.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

FEEDBACK_FILE = "feedback.sqlite3"
# Two phrasings whose sets of character bigrams overlap at least this much are one question.
NEAR_DUPLICATE_JACCARD = 0.6
OUTCOMES = ("answered", "hedged", "declined", "clarify")
Rating = Literal["up", "down"]
PURGE_EVERY = timedelta(hours=1)
EXPORT_FIELDS = ("id", "asked_at", "question", "outcome", "rating", "reason", "rated_at")

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    asked_at TEXT NOT NULL,
    question TEXT NOT NULL,
    outcome TEXT NOT NULL,
    takehome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at);
CREATE TABLE IF NOT EXISTS feedback (
    question_id TEXT PRIMARY KEY REFERENCES questions (id) ON DELETE CASCADE,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT NOT NULL DEFAULT '',
    rated_at TEXT NOT NULL
);
"""

# ----------------------------------------------------------------------------- personal data --

_MASKS = [
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "［邮箱］"),
    (re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"), "［证件号］"),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "［电话］"),
    (re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)"), "［电话］"),
    (re.compile(r"\d{7,}"), "［号码］"),
]


def redact(text: str) -> str:
    """The question without what could identify a person: e-mail, ID-card, phone and long numbers.

    Figures people ask about (15%, 90亩, 2022年, 3亿美元) are kept.
    """
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text


# ----------------------------------------------------------------------------- outcomes -------


def outcome_of(abstained: bool, hedged: bool, reasons: dict[str, Any] | None = None) -> str:
    """answered, hedged, declined or clarify, from an answer's flags and its reasons' outcome."""
    named = str((reasons or {}).get("outcome", ""))
    if named == "clarify":
        return "clarify"
    if abstained:
        return "declined"
    return "hedged" if hedged else "answered"


# ----------------------------------------------------------------------------- near-duplicates -

_NOT_TEXT = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the text, punctuation and spaces dropped (one-character text: itself)."""
    norm = _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())
    if len(norm) < 2:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i : i + 2] for i in range(len(norm) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass
class Group:
    """Near-duplicate questions: the most frequent phrasing, how often any was asked, the others."""

    question: str
    count: int
    last_asked: str
    variants: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    _grams: list[frozenset[str]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "count": self.count,
            "last_asked": self.last_asked,
            "variants": self.variants,
            "reasons": self.reasons,
        }


def group_near_duplicates(
    rows: Iterable[tuple[str, int, str, Sequence[str]]],
    threshold: float = NEAR_DUPLICATE_JACCARD,
) -> list[Group]:
    """Group (question, count, last asked, reasons) rows whose bigram Jaccard with any member of a
    group reaches `threshold`; most asked first (then most recent)."""
    # Most asked first, then most recent (two stable sorts).
    ordered = sorted(sorted(rows, key=lambda r: r[2], reverse=True), key=lambda r: -r[1])
    groups: list[Group] = []
    for question, count, last, reasons in ordered:
        grams = bigrams(question)
        home = next(
            (g for g in groups if any(jaccard(grams, other) >= threshold for other in g._grams)),
            None,
        )
        if home is None:
            groups.append(Group(question, count, last, [], list(reasons), [grams]))
            continue
        home.count += count
        home.last_asked = max(home.last_asked, last)
        home.variants.append(question)
        home.reasons.extend(r for r in reasons if r not in home.reasons)
        home._grams.append(grams)
    groups.sort(key=lambda g: g.last_asked, reverse=True)
    groups.sort(key=lambda g: -g.count)
    return groups


# ----------------------------------------------------------------------------- the store ------


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """ISO 8601 in UTC to the second ('2024-05-01T08:30:00Z'): sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FeedbackStore:
    """The question log and feedback in the SQLite file at `path` (created on first use)."""

    def __init__(
        self, path: Path, retention_days: int = 0, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.clock = clock
        self._ready = False
        self._lock = threading.Lock()
        self._last_purge: datetime | None = None

    # ----- plumbing

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with closing(sqlite3.connect(self.path, timeout=10)) as conn:
                        conn.execute("PRAGMA journal_mode=WAL")
                        conn.executescript(SCHEMA)
                    self._ready = True
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            with conn:  # one transaction: committed on success, rolled back on error
                yield conn

    def _since(self, days: int | None) -> str:
        if days is None or days <= 0:
            return ""
        return stamp(self.clock() - timedelta(days=days))

    def _maybe_purge(self) -> None:
        now = self.clock()
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            self.purge()

    # ----- writing

    def log_question(self, question: str, outcome: str, takehome: str = "") -> str:
        """Log one asked question; returns the id feedback and the take-home QR refer to."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self._maybe_purge()
        qid = uuid.uuid4().hex
        with self._db() as db:
            db.execute(
                "INSERT INTO questions (id, asked_at, question, outcome, takehome) VALUES (?, ?, ?, ?, ?)",
                (qid, stamp(self.clock()), redact(question.strip()), outcome, takehome),
            )
        return qid

    def record_feedback(self, question_id: str, rating: Rating, reason: str = "") -> bool:
        """Keep a 👍/👎 (and optional reason) for a logged question; False if it is not logged."""
        if rating not in ("up", "down"):
            raise ValueError(f"unknown rating {rating!r}")
        with self._db() as db:
            known = db.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone()
            if known is None:
                return False
            db.execute(
                "INSERT INTO feedback (question_id, rating, reason, rated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (question_id) DO UPDATE SET rating = excluded.rating, "
                "reason = excluded.reason, rated_at = excluded.rated_at",
                (question_id, rating, redact(reason.strip()), stamp(self.clock())),
            )
        return True

    def purge(self) -> int:
        """Delete questions (and their feedback) older than the retention period; returns how many."""
        if self.retention_days <= 0:
            return 0
        cutoff = stamp(self.clock() - timedelta(days=self.retention_days))
        with self._db() as db:
            return db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount

    # ----- reading

    def takehome(self, question_id: str) -> str | None:
        """The answer-and-sources text of a logged question (None if unknown or purged)."""
        with self._db() as db:
            row = db.execute(
                "SELECT takehome FROM questions WHERE id = ?", (question_id,)
            ).fetchone()
        return None if row is None else str(row["takehome"])

    def rows(self, days: int | None = None) -> list[dict[str, str]]:
        """Every logged question of the last `days` days (all when None), newest first, with its feedback."""
        self._maybe_purge()
        with self._db() as db:
            found = db.execute(
                "SELECT q.id, q.asked_at, q.question, q.outcome, "
                "COALESCE(f.rating, '') AS rating, COALESCE(f.reason, '') AS reason, "
                "COALESCE(f.rated_at, '') AS rated_at "
                "FROM questions q LEFT JOIN feedback f ON f.question_id = q.id "
                "WHERE q.asked_at >= ? ORDER BY q.asked_at DESC, q.rowid DESC",
                (self._since(days),),
            ).fetchall()
        return [{k: str(r[k]) for k in EXPORT_FIELDS} for r in found]

    def insights(self, days: int | None = None, limit: int = 10) -> dict[str, Any]:
        """Counts and the most frequent declined, hedged and 👎 questions, near-duplicates grouped."""
        rows = self.rows(days)
        counts = dict.fromkeys(OUTCOMES, 0)
        for r in rows:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1

        def top(selected: list[dict[str, str]]) -> list[dict[str, Any]]:
            per: dict[str, list[Any]] = {}
            for r in selected:
                entry = per.setdefault(r["question"], [0, "", []])
                entry[0] += 1
                entry[1] = max(entry[1], r["asked_at"])
                if r["reason"] and r["reason"] not in entry[2]:
                    entry[2].append(r["reason"])
            groups = group_near_duplicates((q, n, last, rs) for q, (n, last, rs) in per.items())
            return [g.as_dict() for g in groups[:limit]]

        return {
            "days": days or 0,
            "since": self._since(days),
            "questions": len(rows),
            "outcomes": counts,
            "up": sum(r["rating"] == "up" for r in rows),
            "down": sum(r["rating"] == "down" for r in rows),
            "declined": top([r for r in rows if r["outcome"] == "declined"]),
            "hedged": top([r for r in rows if r["outcome"] == "hedged"]),
            "disliked": top([r for r in rows if r["rating"] == "down"]),
            "near_duplicate_jaccard": NEAR_DUPLICATE_JACCARD,
        }


# ----------------------------------------------------------------------------- export ---------

_FORMULA = re.compile(r"^[=+\-@\t\r]")


def to_csv(rows: Sequence[dict[str, str]]) -> str:
    """UTF-8 CSV with a BOM (so spreadsheet programs read the Chinese), cells that a spreadsheet
    would run as a formula prefixed with an apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_FIELDS), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("'" + v if _FORMULA.match(v) else v) for k, v in row.items()})
    return out.getvalue()
