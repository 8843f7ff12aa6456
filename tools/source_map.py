"""The source map and the errata's tables, generated from data kept in the repository.

* ``book/sources.yml`` lists every heading, interview question, programming exercise,
  application scenario and tuning knob of the five source articles (``../shared/seeds/``,
  beside the repository) with the course section that covers it and how deeply;
  ``book/source_map.md`` is generated from it (one table per article).
* ``book/errata.md`` holds the errata entries; the tables between its markers (the index
  and the counts per category and per article) are generated from those entries.

    python tools/source_map.py        # check: one line per stale page or bad target; exit 1
    python tools/source_map.py --fix  # rewrite book/source_map.md and the errata tables

``tools/check_notebooks.py`` runs both (``--fix`` with ``make sync``), and
``tests/test_sources.py`` checks ``sources.yml`` against the articles' own headings.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "book" / "sources.yml"
SOURCE_MAP = ROOT / "book" / "source_map.md"
ERRATA = ROOT / "book" / "errata.md"
TOC = ROOT / "_toc.yml"
DEPTHS = ("run", "explained", "mentioned", "left-out")
KINDS = ("heading", "question", "exercise", "principle", "scenario", "knob")
CATEGORIES = ("code", "math", "concept", "terminology", "citation", "install")
ARTICLE_IDS = ("000", "001", "002", "003", "004")
CHINESE_NUMERALS = "一二三四五六七八九十"


def seeds_dir() -> Path | None:
    """The folder of the five articles: ``$AIGC_COURSE_SEEDS`` or ``../shared/seeds``."""
    folder = Path(os.environ.get("AIGC_COURSE_SEEDS", ROOT.parent / "shared" / "seeds"))
    return folder if folder.is_dir() else None


# --- the articles ------------------------------------------------------------------
def article_headings(text: str) -> list[dict]:
    """The headings of an article (outside code fences), in order.

    Each is ``{"line", "level", "text"}``; ``text`` is the heading as written, without
    the ``#`` marks. Numbered bold list items directly under a Chinese-numbered heading
    (``#### 三、…``), the form article 003 gives its interview questions and programming
    exercises, are returned as headings of level 7 with ``"parent"`` set.
    """
    found, fence, parent = [], False, None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if m:
            heading = m.group(2)
            parent = heading if re.match(f"^[{CHINESE_NUMERALS}]+、", heading) else None
            found.append({"line": number, "level": len(m.group(1)), "text": heading})
            continue
        m = re.match(r"^(\d+)\.\s+\*\*(.+?)\*\*", line)
        if m and parent is not None:
            item = m.group(2).strip().rstrip("：:").strip()
            found.append({"line": number, "level": 7, "text": item, "parent": parent})
    return found


def section_items(text: str, heading: str) -> list[str]:
    """The bold list items (``1. **x**`` or ``- **x**``) between ``heading`` and the next heading."""
    items, inside, fence = [], False, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if m:
            inside = m.group(1) == heading
            continue
        if inside:
            m = re.match(r"^\s*(?:\d+\.|-)\s+\*\*(.+?)\*\*", line)
            if m:
                items.append(m.group(1).strip().rstrip("：:").strip())
    return items


def load_sources(path: Path = SOURCES) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- course targets ----------------------------------------------------------------
def toc_files() -> set[str]:
    files = set()

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.add(str(node["file"]))
            if "root" in node:
                files.add(str(node["root"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(TOC.read_text(encoding="utf-8")))
    return files


def doc_source(doc: str) -> Path | None:
    for suffix in (".py", ".md"):
        path = ROOT / (doc + suffix)
        if path.exists():
            return path
    return None


def split_target(target: str) -> tuple[str, str | None]:
    doc, _, fragment = target.partition("#")
    return doc, (fragment or None)


def fragment_kind(source: str, fragment: str) -> str | None:
    """How ``fragment`` is found in a page's source: "section", "label" or None.

    A fragment is a section number (``4.3``: a heading ``## 4.3 …`` or ``## 4.3. …``), a
    MyST label (``(name)=`` or ``:label: name``) or a heading's exact text.
    """
    if re.match(r"^\d+(\.\d+)*$", fragment):
        pattern = rf"^(?:# )?#+ {re.escape(fragment)}[. ]"
        return "section" if re.search(pattern, source, re.M) else None
    if re.search(rf"^(?:# )?\({re.escape(fragment)}\)=\s*$", source, re.M) or re.search(
        rf":label: {re.escape(fragment)}\s*$", source, re.M
    ):
        return "label"
    if re.search(rf"^(?:# )?#+ {re.escape(fragment)}\s*$", source, re.M):
        return "heading"
    return None


def target_problems(target: str, toc: set[str]) -> list[str]:
    doc, fragment = split_target(target)
    if doc not in toc:
        return [f"course target {target!r}: {doc} is not in _toc.yml"]
    source = doc_source(doc)
    if source is None:
        return [f"course target {target!r}: no {doc}.py or {doc}.md"]
    if fragment and fragment_kind(source.read_text(encoding="utf-8"), fragment) is None:
        return [
            f"course target {target!r}: no section, label or heading {fragment!r} in {source.relative_to(ROOT)}"
        ]
    return []


def entry_targets(entry: dict) -> list[str]:
    course = entry.get("course")
    if course is None:
        return []
    return [course] if isinstance(course, str) else list(course)


def sources_problems(data: dict) -> list[str]:
    """Problems of the data file itself: fields, depths, reasons and course targets."""
    problems, toc = [], toc_files()
    for article in data["articles"]:
        seen = set()
        for entry in article["entries"]:
            where = f"sources.yml, article {article['id']}, {entry.get('heading')!r}"
            key = (entry.get("parent"), entry.get("heading"))
            if key in seen:
                problems.append(f"{where}: listed twice")
            seen.add(key)
            if entry.get("kind", "heading") not in KINDS:
                problems.append(f"{where}: kind must be one of {KINDS}")
            if entry.get("depth") not in DEPTHS:
                problems.append(f"{where}: depth must be one of {DEPTHS}")
            if entry.get("depth") == "left-out":
                if not entry.get("why"):
                    problems.append(f"{where}: left out, but no `why`")
            elif not entry_targets(entry):
                problems.append(
                    f"{where}: depth {entry.get('depth')} needs a `course` target"
                )
            for target in entry_targets(entry):
                problems += [f"{where}: {p}" for p in target_problems(target, toc)]
    return problems


# --- the source map page -----------------------------------------------------------
def doc_link(target: str) -> str:
    doc, fragment = split_target(target)
    name = doc.rsplit("/", 1)[-1]
    path = name if doc.startswith("book/") else "../" + doc
    link = f"{{doc}}`{name} <{path}>`"
    if fragment is None:
        return link
    source = doc_source(doc)
    kind = (
        fragment_kind(source.read_text(encoding="utf-8"), fragment) if source else None
    )
    if kind == "label":
        return f"{{ref}}`{name}: {fragment} <{fragment}>`"
    if kind == "section":
        return f"{link} §{fragment}"
    return f"{link}, “{fragment}”"


def course_links(targets: list[str]) -> str:
    """Links to the targets; sections of one page are merged: "page §1, §2"."""
    parts: list[str] = []
    previous = None
    for target in targets:
        link = doc_link(target)
        doc = split_target(target)[0]
        if doc == previous and " §" in link and parts and " §" in parts[-1]:
            parts[-1] += ", §" + link.rsplit(" §", 1)[1]
        else:
            parts.append(link)
        previous = doc
    return "; ".join(parts)


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_source_map(data: dict) -> str:
    lines = [
        "# Source map · 原文对照",
        "",
        "% Generated by `python tools/source_map.py --fix` from book/sources.yml: edit that file, not this page.",
        "",
        "Where each part of the five source articles went. Every heading of every article,",
        "every interview question and programming exercise, and the application scenarios",
        "and tuning knobs listed inside their sections, with the section of the course that",
        "covers it and how deeply:",
        "",
        "* **run**: explained, and run in a cell you can execute;",
        "* **explained**: explained in the text, without code of its own;",
        "* **mentioned**: named, with a pointer, but not developed;",
        "* **left out**: not in the course, with the reason.",
        "",
        "The headings are quoted as the articles write them, with their own section numbers",
        "(unnumbered headings and list items show the number of the section they belong to).",
        "The data are kept in `book/sources.yml`; `tests/test_sources.py` checks that every",
        "heading of the articles is listed and that every target exists. The articles'",
        "mistakes are on the {doc}`errata` page.",
        "",
    ]
    totals = Counter()
    for article in data["articles"]:
        for entry in article["entries"]:
            totals[entry["depth"]] += 1
    total = sum(totals.values())
    lines += ["| depth | entries |", "| --- | --- |"]
    lines += [f"| {d} | {totals[d]} |" for d in DEPTHS]
    lines += [f"| all | {total} |", ""]
    for article in data["articles"]:
        counts = Counter(e["depth"] for e in article["entries"])
        lines += [
            f"## {article['id']}: {article['title']}",
            "",
            f"File `{article['file']}`. {article['summary']} "
            + ", ".join(f"{d}: {counts[d]}" for d in DEPTHS)
            + ".",
            "",
            "| § | in the article | kind | in the course | depth |",
            "| --- | --- | --- | --- | --- |",
        ]
        for entry in article["entries"]:
            heading = cell(entry["heading"])
            if entry.get("parent"):
                heading = "↳ " + heading
            where = course_links(entry_targets(entry))
            depth = entry["depth"]
            if depth == "left-out":
                where = (where + "; " if where else "") + "*" + cell(entry["why"]) + "*"
            lines.append(
                f"| {cell(entry.get('section', ''))} | {heading} | {entry.get('kind', 'heading')} "
                f"| {where} | {depth} |"
            )
        lines.append("")
    return "\n".join(lines)


# --- the errata's tables -----------------------------------------------------------
ENTRY_RE = re.compile(r"^#{3,4} ([AB]\d+)\. (.+)$", re.M)
META_RE = re.compile(
    r"^\*\*Category:\*\* (\w+) · \*\*(?:Article|Source):\*\* (.+?) · "
    r"\*\*(Runs in|Explained in):\*\* (.+)$",
    re.M,
)
TABLES_BEGIN, TABLES_END = "% errata-tables:begin", "% errata-tables:end"


def parse_errata(text: str) -> list[dict]:
    """The entries of ``errata.md``: id, title, category, articles, kind of link, link, body."""
    entries = []
    heads = list(ENTRY_RE.finditer(text))
    # headings outside code fences (a comment line in a quoted program is not a heading)
    starts, fence, offset = [], False, 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#{1,4} ", line):
            starts.append(offset)
        offset += len(line)
    for head in heads:
        end = next((s for s in starts if s > head.start()), len(text))
        body = text[head.end() : end]
        meta = META_RE.search(body)
        before = text[: head.start()].rstrip().rsplit("\n", 1)[-1].strip()
        label = re.fullmatch(r"\((errata-[a-z0-9-]+)\)=", before)
        entry = {
            "id": head.group(1),
            "title": head.group(2),
            "body": body,
            "part": head.group(1)[0],
            "meta": meta is not None,
            "label": label.group(1) if label else None,
        }
        if meta:
            entry.update(
                category=meta.group(1),
                where=meta.group(2),
                link_kind=meta.group(3),
                link=meta.group(4),
                articles=sorted(
                    set(re.findall(r"\b(00[0-4])(?=[《（ ]|$)", meta.group(2)))
                ),
            )
        entries.append(entry)
    return entries


def errata_problems(entries: list[dict]) -> list[str]:
    problems, ids = [], Counter(e["id"] for e in entries)
    problems += [f"errata.md: {i} is used {n} times" for i, n in ids.items() if n > 1]
    for e in entries:
        if not e["meta"]:
            problems.append(
                f"errata.md, {e['id']}: no line '**Category:** … · **Article:** … · **Runs in:** …'"
            )
            continue
        if e["category"] not in CATEGORIES:
            problems.append(
                f"errata.md, {e['id']}: category {e['category']!r} is not one of {CATEGORIES}"
            )
        if e["part"] == "A" and not e["articles"]:
            problems.append(f"errata.md, {e['id']}: names no article (000 to 004)")
        if e["part"] == "A" and "**原文" not in e["body"]:
            problems.append(f"errata.md, {e['id']}: quotes no original (**原文**)")
        if not e["label"]:
            problems.append(
                f"errata.md, {e['id']}: no label (errata-…)= on the line above its heading"
            )
        if e["link_kind"] == "Runs in" and "{ref}`" not in e["link"]:
            problems.append(
                f"errata.md, {e['id']}: 'Runs in' must link to a cell with {{ref}}"
            )
    return problems


def render_errata_tables(entries: list[dict]) -> str:
    a = [e for e in entries if e["part"] == "A" and e["meta"]]
    b = [e for e in entries if e["part"] == "B" and e["meta"]]
    lines = [
        TABLES_BEGIN
        + " (generated by `python tools/source_map.py --fix` from the entries below)",
        "",
    ]
    lines += [
        "## Counts",
        "",
        "Mistakes of the articles (part A) and of common tutorial code (part B), by category:",
        "",
        "| category | part A: the articles | of which run | part B: tutorial code | of which run |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in CATEGORIES:
        na = [e for e in a if e["category"] == c]
        nb = [e for e in b if e["category"] == c]
        lines.append(
            f"| {c} | {len(na)} | {sum(e['link_kind'] == 'Runs in' for e in na)} "
            f"| {len(nb)} | {sum(e['link_kind'] == 'Runs in' for e in nb)} |"
        )
    lines.append(
        f"| **all** | **{len(a)}** | **{sum(e['link_kind'] == 'Runs in' for e in a)}** "
        f"| **{len(b)}** | **{sum(e['link_kind'] == 'Runs in' for e in b)}** |"
    )
    lines += [
        "",
        "Part A by article and category (an entry found in several articles counts once for each):",
        "",
        "| article | " + " | ".join(CATEGORIES) + " | all |",
        "| --- | " + " | ".join("---" for _ in CATEGORIES) + " | --- |",
    ]
    for art in ARTICLE_IDS:
        row = [
            sum(art in e["articles"] and e["category"] == c for e in a)
            for c in CATEGORIES
        ]
        lines.append(
            f"| {art} | "
            + " | ".join(map(str, row))
            + f" | {sum(art in e['articles'] for e in a)} |"
        )
    lines += [
        "",
        "## Index",
        "",
        "| # | category | articles | mistake | runs in / explained in |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in a + b:
        ident = f"{{ref}}`{e['id']} <{e['label']}>`" if e["label"] else e["id"]
        link = e["link"] if e["link_kind"] == "Runs in" else "(explained) " + e["link"]
        lines.append(
            f"| {ident} | {e['category']} | {', '.join(e['articles']) or '—'} "
            f"| {cell(e['title'])} | {cell(link)} |"
        )
    lines += ["", TABLES_END]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str | None:
    start, end = text.find(TABLES_BEGIN), text.find(TABLES_END)
    if start < 0 or end < 0:
        return None
    return text[:start] + block + text[end + len(TABLES_END) :]


# --- check and fix -----------------------------------------------------------------
def generated() -> dict[Path, str]:
    """The pages this tool writes, with the text they should have."""
    out = {SOURCE_MAP: render_source_map(load_sources()) + "\n"}
    text = ERRATA.read_text(encoding="utf-8")
    new = replace_block(text, render_errata_tables(parse_errata(text)))
    if new is not None:
        out[ERRATA] = new
    return out


def problems() -> list[str]:
    found = sources_problems(load_sources())
    text = ERRATA.read_text(encoding="utf-8")
    found += errata_problems(parse_errata(text))
    if replace_block(text, "") is None:
        found.append(f"errata.md: no markers {TABLES_BEGIN!r} and {TABLES_END!r}")
    for path, content in generated().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            found.append(
                f"{path.relative_to(ROOT)} is out of date; run `python tools/source_map.py --fix`"
            )
    return found


def fix() -> list[Path]:
    written = []
    for path, content in generated().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fix", action="store_true", help="rewrite the generated pages"
    )
    args = parser.parse_args()
    if args.fix:
        for path in fix():
            print(f"wrote {path.relative_to(ROOT)}")
    found = problems()
    for line in found:
        print(line)
    print(f"source map and errata: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
