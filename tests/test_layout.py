"""The package layout the README's architecture section describes, held against the imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "assistant"
# Stages in order: a package imports only from packages before it (and from the base modules).
STAGES = ("text", "index", "ingest", "retrieve", "answer")
BASE = ("models", "errors", "settings")
TOP = ("precedents", "eval", "integrations", "service", "cli", "__init__")


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every `from assistant… import …` in a file, lazy ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.module, [a.name for a in node.names])
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("assistant")
    ]


def part(module: str) -> str:
    """The stage package or top-level module a dotted name belongs to."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "__init__"


def test_each_stage_imports_only_from_the_stages_before_it() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for module, _ in imports(path):
            other = part(module)
            if own in BASE:
                allowed = other == own or other in BASE
            elif own in STAGES:
                allowed = other in BASE or other in STAGES[: STAGES.index(own) + 1]
            else:
                allowed = own in TOP
            if not allowed:
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, wrong


def test_no_module_takes_another_packages_private_names() -> None:
    wrong = []
    for path in [*PACKAGE.rglob("*.py"), *(REPO / "api").rglob("*.py")]:
        own = ".".join(path.relative_to(REPO).with_suffix("").parts[:2])
        for module, names in imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and ".".join(module.split(".")[:2]) != own:
                wrong.append(f"{path.relative_to(REPO)}: {module} {private}")
    assert not wrong, wrong


def test_the_readme_names_every_module_where_it_is() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    named: set[str] = set()
    for row in re.findall(r"^\| `assistant/([\w/]*)` \| ([^|]+) \|", section, re.M):
        folder, modules = row
        named |= {folder + m for m in re.findall(r"`([\w]+\.py)`", modules)}
    present = {
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"
    }
    assert named == present, (sorted(present - named), sorted(named - present))
