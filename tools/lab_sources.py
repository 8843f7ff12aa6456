"""One source per lab: ``<name>_lab.py`` -> ``<name>_pytorch.py`` and ``<name>_keras.py``.

A lab exists for both frameworks, and most of it (prose, data, evaluation, pitfalls,
exercises) is the same in both. It is written once, in ``notebooks/<chapter>/<name>_lab.py``
(jupytext ``py:percent``, like every notebook source of the course). A cell tagged
``torch`` goes only into the PyTorch notebook, a cell tagged ``keras`` only into the
Keras one, every other cell into both (d2l's ``#@tab`` idea, applied per cell)::

    # %% [markdown]
    # Shared prose, in both notebooks.

    # %% tags=["torch"]
    import torch

    # %% tags=["keras"]
    import keras

Inside a shared cell, a line that differs between the frameworks is written as a pair of
lines ending in the comments ``# [torch]`` and ``# [keras]`` (markdown lines too: the
comment is stripped, so it never reaches the page)::

    # # Lab: a VAE in PyTorch  # [torch]
    # # Lab: a VAE in Keras  # [keras]

``make sync`` writes the two framework sources from the lab source (and from them the
``.ipynb`` notebooks, as for every notebook); ``tools/check_notebooks.py`` fails when a
generated file differs from what the lab source gives, byte for byte. The generated files
say where they come from in their metadata (``aigc_course.generated_from``) and are never
edited by hand.

    python tools/lab_sources.py            # list generated files that are out of date
    python tools/lab_sources.py --fix      # rewrite them
    python tools/lab_sources.py --merge notebooks/04_vaes/vae   # one lab source from an
                                           # existing vae_pytorch.py + vae_keras.py pair
"""

from __future__ import annotations

import argparse
import copy
import difflib
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SUFFIX = "_lab"
# tag -> suffix of the generated notebook
FRAMEWORKS = {"torch": "_pytorch", "keras": "_keras"}
FMT = "py:percent"
# a line that belongs to one framework only: "...  # [torch]" (markdown lines are "# ...")
_VERSIONS = re.compile(r"^#       (format_version|jupytext_version): .*\n", re.M)
_CODE_MARKER = re.compile(r"^# %%(?! \[markdown\]| \[md\]).*$", re.M)
_ANY_MARKER = re.compile(r"^# %%.*$", re.M)
_LINE_TAG = re.compile(r"^(.*?)\s*# \[(torch|keras)\]$", re.M)


def lab_sources(root: Path = ROOT) -> list[Path]:
    """Every ``notebooks/*/<name>_lab.py``."""
    return sorted((root / "notebooks").glob(f"*/*{SOURCE_SUFFIX}.py"))


def targets(source: Path) -> dict[str, Path]:
    """framework tag -> the .py it generates (``vae_lab.py`` -> ``vae_pytorch.py``, ...)."""
    base = source.name[: -len(SOURCE_SUFFIX + ".py")]
    return {
        tag: source.with_name(base + suffix + ".py")
        for tag, suffix in FRAMEWORKS.items()
    }


def _select_lines(text: str, framework: str) -> str:
    out = []
    for line in text.split("\n"):
        m = _LINE_TAG.match(line)
        if m is None:
            out.append(line)
        elif m.group(2) == framework:
            out.append(m.group(1))
    return "\n".join(out)


def select(nb, framework: str, name: str):
    """The notebook of one framework: its cells and the shared ones, framework tags removed."""
    if framework not in FRAMEWORKS:
        raise ValueError(
            f"framework: expected one of {sorted(FRAMEWORKS)}, got {framework!r}"
        )
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        tags = list(cell.metadata.get("tags", []))
        mine = [t for t in tags if t in FRAMEWORKS]
        if mine and framework not in mine:
            continue
        rest = [t for t in tags if t not in FRAMEWORKS]
        if rest:
            cell.metadata["tags"] = rest
        else:
            cell.metadata.pop("tags", None)
        cell.source = _select_lines(cell.source, framework)
        cells.append(cell)
    out.cells = cells
    # in the header of the generated file, which says where to edit it
    out.metadata["aigc_course"] = {
        "generated_from": name,
        "edit": f"{name}, then run make sync",
    }
    out.metadata.setdefault("jupytext", {})["notebook_metadata_filter"] = "aigc_course"
    return out


def writes(nb) -> str:
    """A notebook as ``py:percent`` text, without jupytext's version in the header (it
    changes with jupytext, and the generated files must be byte-stable)."""
    return _VERSIONS.sub("", jupytext.writes(nb, fmt=FMT))


def generate(source: Path, framework: str) -> str:
    """The text of the ``py:percent`` notebook ``source`` gives for ``framework``."""
    nb = jupytext.read(source)
    return writes(select(nb, framework, source.name))


def problems(root: Path = ROOT) -> list[str]:
    """Generated framework sources that are missing or differ from their lab source."""
    found = []
    for source in lab_sources(root):
        try:
            compile(source.read_text(encoding="utf-8"), str(source), "exec")
        except SyntaxError as e:
            found.append(
                f"{source.relative_to(root).as_posix()}, line {e.lineno}: not valid Python "
                f"({e.msg}); a line that differs between the frameworks inside a statement "
                "needs a cell per framework (tags torch and keras), not a line tag"
            )
        for framework, target in targets(source).items():
            rel = target.relative_to(root).as_posix()
            if not target.exists():
                found.append(
                    f"{rel}: missing; it is generated from {source.name}: run `make sync`"
                )
            elif target.read_text(encoding="utf-8") != generate(source, framework):
                found.append(
                    f"{rel}: differs from what {source.name} gives; edit {source.name} "
                    "(never the generated file) and run `make sync`"
                )
    return found


def set_install_cell(source: Path, install) -> bool:
    """Make the first code cell of a lab source the install cells of its two notebooks
    (``install(stem)`` gives a notebook's, see tools/check_notebooks.py), merged into one
    cell with tagged lines; True if the file changed."""
    text = source.read_text(encoding="utf-8")
    first = _CODE_MARKER.search(text)
    if first is None:
        raise ValueError(
            f"{source.name}: a lab source needs a first code cell (the install cell)"
        )
    nxt = _ANY_MARKER.search(text, first.end())
    end = nxt.start() if nxt else len(text)
    cells = {fw: install(t.with_suffix("")) for fw, t in targets(source).items()}
    merged = _merge_lines(cells["torch"], cells["keras"], min_shared=0)
    if merged is None:
        raise ValueError(
            f"{source.name}: the install cells of its notebooks cannot be written "
            "as one cell with tagged lines (an empty line differs?)"
        )
    body = text[first.end() : end].strip("\n")
    if body == merged:
        return False
    source.write_text(
        text[: first.end()] + "\n" + merged + "\n" + ("\n" if nxt else "") + text[end:],
        encoding="utf-8",
    )
    return True


def fix(root: Path = ROOT, install=None) -> list[Path]:
    """Rewrite every generated framework source that is out of date (after the lab source's
    install cell, if ``install`` is given); the paths written."""
    written = []
    for source in lab_sources(root):
        if install is not None and set_install_cell(source, install):
            written.append(source)
        for framework, target in targets(source).items():
            text = generate(source, framework)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                written.append(target)
    return written


# ---------------------------------------------------------------------------
# merging an existing pair into one lab source
# ---------------------------------------------------------------------------
def _key(cell) -> tuple:
    return cell.cell_type, tuple(cell.metadata.get("tags", [])), cell.source


def _tagged(cell, framework: str):
    cell = copy.deepcopy(cell)
    cell.metadata["tags"] = [framework] + list(cell.metadata.get("tags", []))
    return cell


def _compiles(code: str) -> bool:
    """Whether a code cell's source is valid Python (magics such as %pip count as comments)."""
    try:
        compile(re.sub(r"^(\s*)([%!])", r"\1#\2", code, flags=re.M), "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def split_cells_that_do_not_compile(nb) -> int:
    """Replace each shared code cell whose tagged lines make invalid Python (two versions
    of one continuation line, say) by a ``torch`` and a ``keras`` cell; how many."""
    cells, n = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code" or _compiles(cell.source):
            cells.append(cell)
            continue
        for framework in FRAMEWORKS:
            one = _tagged(cell, framework)
            one.source = _select_lines(cell.source, framework)
            cells.append(one)
        n += 1
    nb.cells = cells
    return n


def _merge_lines(a: str, b: str, min_shared: float = 0.6) -> str | None:
    """One shared source for two versions of a cell that differ in a few lines, with the
    differing lines tagged; None when they differ too much (or a line could not be tagged)."""
    la, lb = a.split("\n"), b.split("\n")
    matcher = difflib.SequenceMatcher(a=la, b=lb, autojunk=False)
    same = sum(size for *_, size in matcher.get_matching_blocks())
    if same < min_shared * max(len(la), len(lb)):
        return None
    out = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += la[i1:i2]
            continue
        for lines, fw in ((la[i1:i2], "torch"), (lb[j1:j2], "keras")):
            for line in lines:
                # an empty line or one that already ends in a tag cannot carry a tag
                if not line.strip() or _LINE_TAG.match(line) or line.rstrip() != line:
                    return None
                out.append(f"{line}  # [{fw}]")
    merged = "\n".join(out)
    if _select_lines(merged, "torch") != a or _select_lines(merged, "keras") != b:
        return None
    # code: the source must stay valid Python
    if _compiles(a) and _compiles(b) and not _compiles(merged):
        return None
    return merged


def _merge_block(left: list, right: list) -> list:
    """Cells for a stretch where the two notebooks differ: pairs of cells that differ in a
    few lines become one shared cell (the most pairs, in order); the rest are tagged."""
    n, m = len(left), len(right)
    merged = {
        (i, j): _merge_lines(left[i].source, right[j].source)
        for i in range(n)
        for j in range(m)
        if _key(left[i])[:2] == _key(right[j])[:2]
    }
    # most pairs within left[i:], right[j:]
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            pair = 1 + best[i + 1][j + 1] if merged.get((i, j)) is not None else 0
            best[i][j] = max(pair, best[i + 1][j], best[i][j + 1])
    cells, i, j, pending_l, pending_r = [], 0, 0, [], []
    while i < n and j < m:
        if merged.get((i, j)) is not None and best[i][j] == 1 + best[i + 1][j + 1]:
            cells += [_tagged(c, "torch") for c in pending_l] + [
                _tagged(c, "keras") for c in pending_r
            ]
            pending_l, pending_r = [], []
            cell = copy.deepcopy(left[i])
            cell.source = merged[i, j]
            cells.append(cell)
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            pending_l.append(left[i])
            i += 1
        else:
            pending_r.append(right[j])
            j += 1
    pending_l += left[i:]
    pending_r += right[j:]
    return (
        cells
        + [_tagged(c, "torch") for c in pending_l]
        + [_tagged(c, "keras") for c in pending_r]
    )


def merge(torch_py: Path, keras_py: Path):
    """A lab source whose two selections give back ``torch_py`` and ``keras_py`` exactly."""
    a, b = jupytext.read(torch_py), jupytext.read(keras_py)
    ka, kb = [_key(c) for c in a.cells], [_key(c) for c in b.cells]
    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(a.metadata))
    matcher = difflib.SequenceMatcher(a=ka, b=kb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.cells += [copy.deepcopy(c) for c in a.cells[i1:i2]]
            continue
        out.cells += _merge_block(a.cells[i1:i2], b.cells[j1:j2])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--fix", action="store_true", help="rewrite the generated framework sources"
    )
    ap.add_argument(
        "--merge",
        metavar="NOTEBOOKS/CHAPTER/NAME",
        help="write NAME_lab.py from NAME_pytorch.py and NAME_keras.py",
    )
    ap.add_argument(
        "--split",
        action="store_true",
        help="split shared code cells whose tagged lines are not valid Python",
    )
    args = ap.parse_args(argv)
    if args.merge:
        base = Path(args.merge)
        source = base.with_name(base.name + SOURCE_SUFFIX + ".py")
        nb = merge(
            base.with_name(base.name + "_pytorch.py"),
            base.with_name(base.name + "_keras.py"),
        )
        nb.metadata.pop("aigc_course", None)
        source.write_text(writes(nb), encoding="utf-8")
        print(f"wrote {source}")
        return 0
    if args.split:
        for source in lab_sources():
            nb = jupytext.read(source)
            n = split_cells_that_do_not_compile(nb)
            if n:
                source.write_text(writes(nb), encoding="utf-8")
                print(
                    f"{source.relative_to(ROOT)}: split {n} cell(s) into a torch and a keras cell"
                )
        return 0
    if args.fix:
        for path in fix():
            print(f"wrote {path.relative_to(ROOT)} (tools/lab_sources.py)")
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
