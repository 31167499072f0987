"""The documentation's links: every relative link in README.md and docs/*.md names a file of
the repository (and, with `#anchor`, a heading of that file), and nothing in the repository
points at the design notes that live outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# [text](target) or [text](target "title"); images too. Not inside code.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
EXTERNAL = ("http://", "https://", "mailto:")

# Notes outside the repository that the code once cited. Spelled in pieces so that this file
# does not match itself.
OUTSIDE = re.compile(
    r"\.\./" + "shared" + r"|\b(?:" + "|".join(("FINESSE", "STACK", "DESIGN", "APP")) + r")\.md\b"
)
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "reports", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".feature", ".xml", ".cfg", ".ini", ".txt", ".yml", ".yaml"}


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code, inline code removed."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, INLINE_CODE.sub("", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    return [(n, m.group(1)) for n, text in prose_lines(path) for m in LINK.finditer(text)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for number, target in links(doc):
        if target.startswith(EXTERNAL):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        where = f"{doc.relative_to(ROOT)}:{number}: {target}"
        if ROOT not in (dest, *dest.parents):
            broken.append(f"{where} (outside the repository)")
        elif not dest.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{where} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_docs_have_links_to_check() -> None:
    """The link pattern still finds links (a broken pattern would pass every file)."""
    targets = [target for _, target in links(ROOT / "README.md")]
    assert "docs/connector.md" in targets and "docs/finesse.md" in targets


def test_nothing_points_outside_the_repository() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if path.suffix not in TEXT_SUFFIXES or SKIP_DIRS.intersection(parts) or not path.is_file():
            continue
        if any(p.startswith(".") or p.endswith(".egg-info") for p in parts):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, (
        "references to notes outside the repository (use docs/finesse.md and the other docs/ "
        "pages instead):\n" + "\n".join(offenders)
    )


def test_slug_follows_github() -> None:
    assert slug("The mobile API (`/api/v1`, JSON)") == "the-mobile-api-apiv1-json"
    assert slug("The 'finesse' user") == "the-finesse-user"
    assert slug("Simulator throughput (`make bench`)") == "simulator-throughput-make-bench"
