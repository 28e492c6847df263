"""Command line: `policy-assistant ingest|search|ask|eval|serve|documents`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.settings import Settings, get_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings(
            **({"index_dir": args.index} if getattr(args, "index", None) else {})
        )
        return int(args.func(args, settings) or 0)
    except AssistantError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="policy-assistant", description="Cited answers about Chinese policy documents."
    )
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help, description=help)
        cmd.add_argument(
            "--index", type=Path, help="index folder (default: PA_INDEX_DIR or index/)"
        )
        cmd.set_defaults(func=func)
        return cmd

    c = command(
        "ingest",
        "Ingest files and folders into the index (unchanged ones are skipped).",
        cmd_ingest,
    )
    c.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: the corpus folder)"
    )
    c.add_argument(
        "--no-prune",
        action="store_true",
        help="keep documents that vanished from an ingested folder",
    )
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    c = command("search", "Show the passages that best match a query.", cmd_search)
    c.add_argument("query")
    c.add_argument("--top-k", type=int, default=None)
    c.add_argument(
        "--document", action="append", default=[], help="only this document id (repeatable)"
    )
    c.add_argument("--heading", default="", help="only passages whose heading contains this")
    c.add_argument("--json", action="store_true")

    c = command("ask", "Answer a question with numbered citations.", cmd_ask)
    c.add_argument("question")
    c.add_argument(
        "--history",
        action="append",
        default=[],
        help="an earlier user question (repeatable, oldest first)",
    )
    c.add_argument("--json", action="store_true")
    c.add_argument(
        "--explain", action="store_true", help="print the outcome's reasons: gaps and features"
    )

    c = command(
        "tune",
        "Fit the answer models on the tune split; print tune, test and leave-one-document-out figures.",
        cmd_tune,
    )
    c.add_argument(
        "--data",
        type=Path,
        default=Path("bench/data/blind"),
        help="folder holding tune.jsonl and test.jsonl",
    )
    c.add_argument(
        "--home-index",
        type=Path,
        help="an index of corpus/ alone: the customer's own questions are read against it too",
    )
    c.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="QA[@INDEX]",
        help="another QA set to report, read against INDEX (default: --index)",
    )
    c.add_argument("--no-lodo", action="store_true", help="skip leave-one-document-out")
    c.add_argument(
        "--dry-run", action="store_true", help="print the figures without writing the model"
    )

    c = command("eval", "Evaluate retrieval (and answers) on a QA set in JSON Lines.", cmd_eval)
    c.add_argument("qa", type=Path)
    c.add_argument("--json", action="store_true")
    c.add_argument("--retrieval-only", action="store_true", help="skip the answer metrics")

    c = command("documents", "List the indexed documents.", cmd_documents)
    c.add_argument("--json", action="store_true")

    c = command("delete", "Remove a document from the index.", cmd_delete)
    c.add_argument("document_id")

    c = command("serve", "Serve the HTTP API and web pages.", cmd_serve)
    c.add_argument("--host", default=None)
    c.add_argument("--port", type=int, default=None)
    c.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (each loads the index; they share jobs and rate counts)",
    )
    return p


def _assistant(settings: Settings, create: bool = False) -> Any:
    from assistant.service import Assistant

    return Assistant(settings, create=create)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    paths = args.paths or [settings.corpus_dir]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise AssistantError(f"no such file or folder: {', '.join(missing)}")
    bot = _assistant(settings, create=True)
    if settings.chroma_mode == "embedded":
        bot.index.collect_garbage()
    report = bot.ingest(paths, progress=not args.quiet, prune=not args.no_prune)
    print(report.summary())
    bot.index.refresh()
    total = bot.index.snapshot
    print(
        f"index: {len(total.documents)} documents, {len(total.chunks)} chunks at {settings.index_dir}"
    )
    return 1 if report.failed and not (report.added or report.updated or report.skipped) else 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.retrieve.retriever import Filters

    bot = _assistant(settings)
    hits = bot.search(args.query, args.top_k, Filters(args.document, args.heading))
    if args.json:
        print(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no matching passages")
    for i, h in enumerate(hits, 1):
        c = h.chunk
        where = " > ".join([c.document_title, *c.heading_path])
        page = f" p.{c.pages[0]}" if c.pages else ""
        print(f"[{i}] {h.score:.4f}  {where}{page}")
        print("    " + c.text.replace("\n", " ")[:160] + ("…" if len(c.text) > 160 else ""))
    return 0


def hit_json(h: Any) -> dict[str, Any]:
    c = h.chunk
    return {
        "text": c.text,
        "score": h.score,
        "source": {
            "document_id": c.document_id,
            "title": c.document_title,
            "heading": c.heading_path,
            "page": c.pages[0] if c.pages else None,
            "start": c.start,
            "end": c.end,
        },
    }


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.answer import answer_json
    from assistant.answer.provenance import facts_line

    bot = _assistant(settings)
    result = bot.ask(args.question, args.history)
    if args.json:
        print(json.dumps(answer_json(result), ensure_ascii=False, indent=2))
        return 0
    print(result.text)
    for c in result.citations:
        page = f"，第{c.page}页" if c.page else ""
        whose = f"（{facts_line(c.document)}）"
        print(
            f"  [{c.number}] {c.title}{whose}{' · ' + ' > '.join(c.heading_path) if c.heading_path else ''}{page}：“{c.quote}”"
        )
    if args.explain:
        print(json.dumps(result.reasons, ensure_ascii=False, indent=2))
    if result.abstained and result.related:
        print("相关材料：")
        for h in result.related[:3]:
            print(f"  - {h.chunk.document_title}：{h.chunk.text[:60].replace(chr(10), ' ')}…")
    return 0


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.answer.model import AnswerModel
    from assistant.eval.metrics import load_qa
    from assistant.eval.tune import run
    from assistant.service import Assistant

    # The earlier model only writes the earlier answers of follow-up questions; a stale or broken
    # file cannot stop a refit.
    try:
        earlier = AnswerModel.load(settings.answer_model_path)
    except AssistantError:
        earlier = AnswerModel.untrained()

    def bot(index: Path) -> Assistant:
        fresh = settings.model_copy(update={"index_dir": index})
        return Assistant(fresh, create=False, model=earlier)

    library = bot(settings.index_dir)
    home = bot(args.home_index) if args.home_index is not None else None
    data = {}
    for name in ("tune", "test", "public_tune", "public_test"):
        if (args.data / f"{name}.jsonl").exists():
            data[name] = load_qa(args.data / f"{name}.jsonl")
    extra = {}
    for spec in args.extra:
        path, _, index = spec.partition("@")
        extra[Path(path).stem] = (bot(Path(index)) if index else library, load_qa(Path(path)))
    model, report = run(library, data, home, extra, lodo=not args.no_lodo)
    print(report)
    if not args.dry_run:
        model.save(settings.answer_model_path)
        print(f"wrote {settings.answer_model_path}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.answer.followup import resolve
    from assistant.eval.metrics import ANSWER_COLUMNS, evaluate_retrieval, format_table, load_qa

    bot = _assistant(settings)
    items = load_qa(args.qa)
    report: dict[str, Any] = {
        "retrieval": evaluate_retrieval(
            items, lambda it: bot.search(resolve(it.question, it.history), 10)
        )
    }
    if not args.retrieval_only and hasattr(bot, "ask"):
        from assistant.eval.metrics import evaluate_answers

        report["answers"] = evaluate_answers(items, bot.ask)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print("Retrieval (answerable questions; hit = a passage containing an evidence string)")
    print(format_table(report["retrieval"], ["n", "r@1", "r@3", "r@5", "mrr"]))
    if report["retrieval"]["misses@5"]:
        misses = report["retrieval"]["misses@5"]
        print(
            f"missed in top 5 ({len(misses)}):",
            ", ".join(misses[:20]) + (" …" if len(misses) > 20 else ""),
        )
    if "answers" in report:
        print("\nAnswers")
        print(format_table(report["answers"], list(ANSWER_COLUMNS)))
    return 0


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    bot = _assistant(settings)
    docs = bot.documents()
    if args.json:
        print(json.dumps([asdict(d) for d in docs], ensure_ascii=False, indent=2))
        return 0
    for d in docs:
        print(f"{d.id}  {d.doc_type:5} {d.chunks:5} chunks  {d.title}")
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    _assistant(settings).delete(args.document_id)
    print(f"deleted {args.document_id}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.main import create_app

    host, port = args.host or settings.host, args.port or settings.port
    if args.workers <= 1:
        # The app is built here from these settings (--index included), not through the environment.
        uvicorn.run(create_app(settings), host=host, port=port)
        return 0
    # Worker processes build their own app from the environment: hand them --index, and split
    # the cores between them unless told otherwise.
    os.environ["PA_INDEX_DIR"] = str(settings.index_dir)
    if "PA_EMBED_THREADS" not in os.environ and not settings.embed_threads:
        os.environ["PA_EMBED_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.workers))
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
