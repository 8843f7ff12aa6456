"""Format the code cells of the notebook sources with ``ruff format``.

The notebook sources (``notebooks/*/*.py``, jupytext ``py:percent``) are not formatted as
plain Python files: ruff would remove the trailing ``;`` that hides a cell's output. Each
code cell is formatted as a notebook cell instead (ruff's notebook mode keeps that ``;``),
at the project's line length, so that code on the site's pages fits its code blocks
without scrolling sideways.

A lab source (``*_lab.py``, see ``tools/lab_sources.py``) holds both frameworks. A cell
tagged ``torch`` or ``keras`` is formatted as it is. A shared cell with lines tagged
``# [torch]`` / ``# [keras]`` is formatted once per framework and merged again, the lines
that differ tagged; when the two formatted versions differ too much to share a cell, the
cell becomes a ``torch`` and a ``keras`` cell.

``make lint`` checks the result through the paired ``.ipynb`` notebooks (``ruff format
--check`` reads notebooks); ``make sync`` runs this first.

    python tools/format_cells.py           # rewrite the sources whose code is not formatted
    python tools/format_cells.py --check   # list them; exit 1 if any
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import io
import json
import subprocess
import sys
import tokenize
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "lab_sources", Path(__file__).resolve().parent / "lab_sources.py"
)
lab_sources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_sources)


def ruff_format(cells: list[str], root: Path = ROOT) -> list[str]:
    """The code cells ``cells`` as ``ruff format`` writes them in a notebook (one call)."""
    if not cells:
        return []
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    ruff = str(Path(sys.executable).with_name("ruff"))
    ruff = ruff if Path(ruff).exists() else "ruff"
    text = json.dumps(nb)
    # import blocks sorted as `ruff check` wants them (I001), then formatted
    for args in (["check", "--select", "I", "--fix-only", "--exit-zero"], ["format"]):
        done = subprocess.run(
            [ruff, *args, "--stdin-filename", "notebooks/cells.ipynb", "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=root,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ruff {args[0]} failed: {done.stderr.strip()}")
        text = done.stdout
    out = json.loads(text)["cells"]
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in out
    ]


_BLOCK_CONTINUATION = ("else", "elif ", "except", "finally", "case ")


def hoist_comments(code: str, line_length: int = 88) -> str:
    """Move a trailing comment that makes its line too long onto a line of its own
    (above the line, or as the first line of the block for ``else:``, ``except ...:``
    and the like), so that the formatter does not wrap a statement that fits on its own.
    Tags ``# [torch]`` / ``# [keras]`` of the lab sources stay where they are. Code that
    does not tokenize is returned as it is."""
    lines = code.split("\n")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code
    moves = {}  # line index -> (code part, comment)
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.COMMENT or i == 0:
            continue
        row, col = tok.start
        line = lines[row - 1]
        before = line[:col].rstrip()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            len(line) <= line_length
            or not before.strip()
            or lab_sources._LINE_TAG.match(line)
            or tok.string.startswith(("# noqa", "# type:", "# fmt:"))
            or len(before) > line_length
            or before.endswith("\\")
            or nxt is None
            or nxt.type not in (tokenize.NEWLINE, tokenize.NL)
        ):
            continue
        moves[row - 1] = (before, tok.string)
    if not moves:
        return code
    out = []
    for k, line in enumerate(lines):
        if k not in moves:
            out.append(line)
            continue
        before, comment = moves[k]
        indent = before[: len(before) - len(before.lstrip())]
        if before.lstrip().startswith(_BLOCK_CONTINUATION) and before.endswith(":"):
            out += [before, indent + "    " + comment]
        else:
            out += [indent + comment, before]
    return "\n".join(out)


def _has_line_tags(src: str) -> bool:
    return lab_sources._LINE_TAG.search(src) is not None


def format_notebook(nb, lab: bool) -> bool:
    """Format ``nb``'s code cells in place; True if anything changed."""
    units = []  # (cell index, framework or None, source)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if lab and _has_line_tags(cell.source):
            for fw in lab_sources.FRAMEWORKS:
                units.append((i, fw, lab_sources._select_lines(cell.source, fw)))
        else:
            units.append((i, None, cell.source))
    formatted = ruff_format([hoist_comments(u[2]) for u in units])
    by_cell: dict[int, dict] = {}
    for (i, fw, _), new in zip(units, formatted):
        by_cell.setdefault(i, {})[fw] = new.rstrip("\n")
    cells, changed = [], False
    for i, cell in enumerate(nb.cells):
        versions = by_cell.get(i)
        if versions is None:
            cells.append(cell)
            continue
        if None in versions:
            new = versions[None]
        else:
            new = lab_sources._merge_lines(
                versions["torch"], versions["keras"], min_shared=0.3
            )
        if new is None:  # too different to share a cell: one cell per framework
            for fw in lab_sources.FRAMEWORKS:
                one = lab_sources._tagged(cell, fw)
                one.source = versions[fw]
                cells.append(one)
            changed = True
            continue
        if new != cell.source:
            cell = copy.deepcopy(cell)
            cell.source = new
            changed = True
        cells.append(cell)
    nb.cells = cells
    return changed


def sources(root: Path = ROOT) -> list[Path]:
    """The hand-written notebook sources: lab sources and the single notebooks (not the
    framework notebooks generated from a lab source)."""
    out = []
    for path in sorted((root / "notebooks").glob("*/*.py")):
        generated = any(
            path == t
            for source in lab_sources.lab_sources(root)
            for t in lab_sources.targets(source).values()
        )
        if not generated:
            out.append(path)
    return out


def _writes_like(nb, original: str) -> str:
    """Write ``nb`` keeping the header style of ``original`` (with or without jupytext's
    version lines)."""
    if "jupytext_version:" in original:
        return jupytext.writes(nb, fmt=lab_sources.FMT)
    return lab_sources.writes(nb)


def run(root: Path = ROOT, fix: bool = True) -> list[Path]:
    """The sources whose code cells were not formatted (rewritten when ``fix``)."""
    found = []
    for path in sources(root):
        text = path.read_text(encoding="utf-8")
        nb = jupytext.reads(text, fmt=lab_sources.FMT)
        if not format_notebook(nb, lab=path.stem.endswith(lab_sources.SOURCE_SUFFIX)):
            continue
        new = _writes_like(nb, text)
        if new == text:
            continue
        found.append(path)
        if fix:
            path.write_text(new, encoding="utf-8")
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--check",
        action="store_true",
        help="only list the sources that are not formatted",
    )
    args = ap.parse_args(argv)
    found = run(fix=not args.check)
    for path in found:
        rel = path.relative_to(ROOT).as_posix()
        print(
            f"{rel}: code cells not formatted; run `make sync`"
            if args.check
            else f"formatted {rel}"
        )
    return 1 if found and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
