"""The code on the page is the package's code: a check, and ``make sync`` to update it.

A lab shows its networks and training step as code cells that the reader can edit and
run (keras.io style), while ``aigc_course`` keeps the tested reference that benchmarks,
the results page and later chapters use. A code cell whose metadata names a module of
the package, e.g. ::

    # %% tags=["torch"] mirrors="aigc_course.torch.gan"
    def generator_loss(fake_logits):
        ...

    class GAN(reference.GAN):
        '''The course's GAN with its training step written out here.'''

        def train_step(self, real):
            ...

holds definitions that must read exactly as in that module:

* each top-level ``def f`` or ``class C`` equals the module's ``f`` or ``C`` (the whole
  definition, docstring and comments included; a function's decorators too, a class's
  not), except that
* a class whose base is the package's class of the same name (``class GAN(reference.GAN)``,
  a subclass that overrides a few methods) has its own docstring and base, and each
  method it defines equals the package's method of that name (found on the package
  class or, failing that, on its bases in the module).

Anything else in the cell (imports, assignments, calls) is the page's own. Text is
compared after removing the indentation of the definition, line by line.

    python tools/page_code.py          # one line per difference; exit 1 if any
    python tools/page_code.py --fix    # rewrite the page's definitions from the package

The sources checked are the lab sources (``*_lab.py``) and the notebooks that have no
lab source; the generated ``_pytorch``/``_keras`` files follow their lab source.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
import textwrap
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent

# tools/lab_sources.py, by path (these tools are also imported as modules by the tests)
_spec = importlib.util.spec_from_file_location(
    "lab_sources", Path(__file__).resolve().parent / "lab_sources.py"
)
lab_sources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_sources)
KEY = "mirrors"  # the cell metadata key


def module_file(module: str, root: Path = ROOT) -> Path:
    """``aigc_course.torch.gan`` -> <root>/aigc_course/torch/gan.py (read, never imported)."""
    if (
        not module.startswith("aigc_course.")
        or not module.replace(".", "").replace("_", "").isalnum()
    ):
        raise ValueError(
            f"{KEY}: expected a module of the package such as 'aigc_course.torch.gan', got {module!r}"
        )
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    if not path.exists():
        raise ValueError(
            f"{KEY}: {module!r} is not a module of the package (no {path.name})"
        )
    return path


def _start(node) -> int:
    """First line (1-based) of a definition: a function's decorators included (they change
    what it does: ``@torch.no_grad()``), a class's not (registering a class for saving is
    the package's business; a page class registered under the package's name would
    replace the package's class)."""
    if isinstance(node, ast.ClassDef):
        return node.lineno
    return min([node.lineno] + [d.lineno for d in node.decorator_list])


def _text(lines: list[str], node) -> str:
    """The definition's lines, without their common indentation."""
    return textwrap.dedent(
        "\n".join(line.rstrip() for line in lines[_start(node) - 1 : node.end_lineno])
    )


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Module:
    """The top-level definitions of a package module, as text."""

    def __init__(self, path: Path):
        source = path.read_text(encoding="utf-8")
        self.lines = source.splitlines()
        self.defs = {n.name: n for n in ast.parse(source).body if isinstance(n, _DEFS)}

    def text(self, name: str) -> str | None:
        node = self.defs.get(name)
        return None if node is None else _text(self.lines, node)

    def method(self, cls: str, name: str, seen=()) -> str | None:
        """The text of ``cls.name``, looked up on ``cls`` and then on its bases in the module."""
        node = self.defs.get(cls)
        if not isinstance(node, ast.ClassDef) or cls in seen:
            return None
        for item in node.body:
            if isinstance(item, _DEFS[:2]) and item.name == name:
                return _text(self.lines, item)
        for base in node.bases:
            if isinstance(base, ast.Name):
                found = self.method(base.id, name, seen + (cls,))
                if found is not None:
                    return found
        return None


def _is_override(node: ast.ClassDef) -> bool:
    """``class GAN(something.GAN)``: a subclass of the package's class of the same name."""
    return any(isinstance(b, ast.Attribute) and b.attr == node.name for b in node.bases)


def compare(
    cell_source: str, module: Module, where: str
) -> tuple[list[str], list[tuple]]:
    """Problems of one cell, and the replacements that fix them: (first line, last line,
    indentation, package text), lines 1-based in the cell."""
    try:
        tree = ast.parse(cell_source)
    except SyntaxError as e:
        return [f"{where}: does not parse ({e.msg}, line {e.lineno})"], []
    lines = cell_source.splitlines()
    problems, edits = [], []

    def check(node, expected, label):
        if expected is None:
            problems.append(
                f"{where}: {label} is not in the package, so nothing checks it; "
                "remove it from this cell or add it to the package"
            )
            return
        first = lines[_start(node) - 1]
        indent = first[: len(first) - len(first.lstrip())]
        if _text(lines, node) != expected:
            problems.append(
                f"{where}: {label} differs from the package's; run `make sync` to copy "
                "the package's version here (or change the package first)"
            )
            edits.append((_start(node), node.end_lineno, indent, expected))

    for node in tree.body:
        if isinstance(node, ast.ClassDef) and _is_override(node):
            methods = [m for m in node.body if isinstance(m, _DEFS[:2])]
            if not methods:
                problems.append(
                    f"{where}: class {node.name} overrides no method of the package's"
                )
            for m in methods:
                check(m, module.method(node.name, m.name), f"{node.name}.{m.name}")
        elif isinstance(node, _DEFS):
            check(node, module.text(node.name), node.name)
    return problems, edits


def apply(cell_source: str, edits: list[tuple]) -> str:
    lines = cell_source.split("\n")
    for first, last, indent, text in sorted(edits, reverse=True):
        lines[first - 1 : last] = [
            (indent + line) if line else "" for line in text.split("\n")
        ]
    return "\n".join(lines)


def sources(root: Path = ROOT) -> list[Path]:
    """Lab sources, and notebook sources that are not generated from one."""
    out = []
    for path in sorted((root / "notebooks").glob("*/*.py")):
        base = path.stem.rsplit("_", 1)[0]
        generated = (
            path.stem.endswith(("_pytorch", "_keras"))
            and path.with_name(base + "_lab.py").exists()
        )
        if not generated:
            out.append(path)
    return out


def run(root: Path = ROOT, fix: bool = False) -> list[str]:
    """Problems of every page cell that mirrors the package; with ``fix``, the page
    definitions are rewritten from the package first (the problems left are returned)."""
    found = []
    for path in sources(root):
        nb = jupytext.read(path)
        changed = False
        for i, cell in enumerate(nb.cells):
            module = cell.metadata.get(KEY)
            if cell.cell_type != "code" or module is None:
                continue
            where = (
                f"{path.relative_to(root).as_posix()}, cell {i + 1} ({KEY} {module})"
            )
            try:
                mod = Module(module_file(module, root))
            except ValueError as e:
                found.append(f"{where}: {e}")
                continue
            problems, edits = compare(cell.source, mod, where)
            if fix and edits:
                cell.source = apply(cell.source, edits)
                changed = True
                problems, _ = compare(cell.source, mod, where)
            found += problems
        if changed:
            path.write_text(lab_sources.writes(nb), encoding="utf-8")
    return found


def cells(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(source, module) of every page cell that mirrors the package."""
    return [
        (path, c.metadata[KEY])
        for path in sources(root)
        for c in jupytext.read(path).cells
        if c.cell_type == "code" and KEY in c.metadata
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--fix",
        action="store_true",
        help="copy the package's definitions onto the pages",
    )
    args = ap.parse_args(argv)
    found = run(fix=args.fix)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
