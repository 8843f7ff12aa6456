"""Check (or fix) the course notebooks.

Every ``notebooks/**/<name>.ipynb`` has a twin ``<name>.py`` in jupytext's
``py:percent`` format; the ``.py`` is the source of truth. For each pair, check that

(a) both files exist;
(b) they hold the same cells (types, tags and sources, trailing whitespace ignored);
(c) the ``.ipynb`` has no outputs and no execution counts;
(d) its metadata has the ``python3`` kernelspec and jupytext formats ``ipynb,py:percent``;
(e) its first code cell is the Colab install cell: it tests for ``google.colab`` and
    pip-installs ``git+<repository.url>``, the URL set once in ``_config.yml``;
(f) it is listed in ``_toc.yml`` (a warning only).

    python tools/check_notebooks.py        # one line per problem; exit 1 if any
    python tools/check_notebooks.py --fix  # rewrite each .ipynb from its .py, stripped
    python tools/check_notebooks.py --fix notebooks/04_vaes/vae_concepts.py  # only this one
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
FORMATS = "ipynb,py:percent"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
SKIP = {".ipynb_checkpoints", "_build", "__pycache__"}  # folders not searched


def load_yaml(name: str):
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def toc_files() -> set[str]:
    """Every ``file:`` and the ``root:`` of _toc.yml, without extension."""
    def walk(node) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(walk, node))
        if isinstance(node, dict):
            own = {str(Path(v).with_suffix("")) for k, v in node.items() if k in ("file", "root")}
            return own.union(*map(walk, node.values()))
        return set()
    return walk(load_yaml("_toc.yml"))


def stems() -> list[Path]:
    """Notebook paths without extension: each .ipynb, and each .py that has ``# %%`` cells."""
    found = set()
    for path in NB_DIR.rglob("*"):
        if SKIP & set(path.relative_to(NB_DIR).parts):
            continue
        text = path.read_text(encoding="utf-8") if path.suffix == ".py" else ""
        if path.suffix == ".ipynb" or re.search(r"^# %%", text, re.M):
            found.add(path.with_suffix(""))
    return sorted(found)


def cells(nb) -> list[tuple]:
    """What must agree between the twins: type, tags and source of every cell."""
    def norm(src: str) -> str:
        return "\n".join(line.rstrip() for line in src.strip().splitlines())

    return [(c.cell_type, tuple(c.metadata.get("tags", [])), norm(c.source)) for c in nb.cells]


def from_py(py: Path, old_ipynb: Path | None = None):
    """The notebook of a .py, stripped, with stable cell ids (kept from ``old_ipynb``)."""
    nb = jupytext.read(py)
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    old = nbformat.read(old_ipynb, as_version=4).cells if old_ipynb and old_ipynb.exists() else []
    free = {(c.cell_type, c.source): c.get("id") for c in reversed(old) if c.get("id")}
    used: set[str] = set()
    for c in nb.cells:
        cid = free.pop((c.cell_type, c.source), None)
        if cid is None or cid in used:  # a new or edited cell: an id derived from its content
            cid = hashlib.sha1(f"{c.cell_type}\n{c.source}".encode()).hexdigest()[:8]
        while cid in used:
            cid = hashlib.sha1(cid.encode()).hexdigest()[:8]
        c.id = cid
        used.add(cid)
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def fix(stem: Path) -> None:
    """Write the .ipynb from the .py (first the .py from the .ipynb if there is no .py)."""
    py, ipynb = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
    if not py.exists():
        jupytext.write(jupytext.read(ipynb), py, fmt="py:percent")
        print(f"wrote {py.relative_to(ROOT)} from its .ipynb")
    jupytext.write(from_py(py, ipynb), ipynb)
    print(f"wrote {ipynb.relative_to(ROOT)}")


def check(stem: Path, url: str, toc: set[str]) -> tuple[list[str], list[str]]:
    """Problems and warnings of one notebook pair."""
    py, ipynb = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
    rel = ipynb.relative_to(ROOT)
    if not py.exists():
        return [f"{rel}: no paired {py.name} (py:percent); run `make sync` to create it"], []
    if not ipynb.exists():
        return [f"{py.relative_to(ROOT)}: no paired {ipynb.name}; run `make sync` to create it"], []
    problems = []
    nb = nbformat.read(ipynb, as_version=4)
    if cells(nb) != cells(jupytext.read(py)):
        problems.append(f"{rel}: out of sync with {py.name}; edit the .py and run `make sync`")
    if any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code"):
        problems.append(f"{rel}: has outputs or execution counts; run `make sync` to strip them")
    if nb.metadata.get("jupytext", {}).get("formats") != FORMATS:
        problems.append(f"{rel}: jupytext formats metadata is not {FORMATS!r}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{rel}: kernelspec is not python3")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    install = rf"pip install\b.*\bgit\+{re.escape(url)}(\.git)?(@[\w./-]+)?(?![\w./-])"
    if not code or "google.colab" not in code[0] or not re.search(install, code[0]):
        problems.append(f"{rel}: the first code cell must pip-install the package on Colab "
                        f"(`if \"google.colab\" in sys.modules:`) from git+{url}, "
                        "the repository.url of _config.yml")
    listed = str(rel.with_suffix("")) in toc
    return problems, [] if listed else [f"{rel}: not listed in _toc.yml (warning)"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fix", action="store_true", help="regenerate each .ipynb from its .py")
    parser.add_argument("paths", nargs="*", help="only these notebooks (.py or .ipynb); default: all")
    args = parser.parse_args()
    notebooks = stems()
    if args.paths:
        wanted = {Path(p).resolve().with_suffix("") for p in args.paths}
        notebooks = [s for s in notebooks if s in wanted]
        missing = wanted - set(notebooks)
        if missing:
            print("not notebooks: " + ", ".join(sorted(map(str, missing))))
            return 1
    if args.fix:
        for stem in notebooks:
            fix(stem)
    url, toc = load_yaml("_config.yml")["repository"]["url"].rstrip("/"), toc_files()
    problems = []
    for stem in notebooks:
        found, warnings = check(stem, url, toc)
        problems += found
        for line in found + warnings:
            print(line)
    print(f"checked {len(notebooks)} notebooks: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
