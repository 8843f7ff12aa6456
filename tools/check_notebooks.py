"""Check (or fix) the course notebooks.

For every ``notebooks/**/*.ipynb`` and ``notebooks/**/*.py``:

* the pair exists (``.py`` in jupytext's ``py:percent`` format is the source of truth);
* the two are in sync (same cells, same sources);
* the ``.ipynb`` has no outputs and no execution counts;
* the first code cell is the Colab install cell, installing from the repository URL
  in ``_config.yml`` (the one place that URL is set);
* the notebook is listed in ``_toc.yml``.

    python tools/check_notebooks.py         # report problems, exit 1 if any
    python tools/check_notebooks.py --fix   # regenerate each .ipynb from its .py
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
FORMATS = "ipynb,py:percent"


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def toc_files() -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("file", "root"):
                    found.add(str(Path(v).with_suffix("")))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))
    return found


def cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def from_py(py: Path):
    nb = jupytext.read(py)
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def check(py: Path, ipynb: Path, url: str, toc: set[str]) -> list[str]:
    rel = ipynb.relative_to(ROOT)
    if not py.exists():
        return [f"{rel}: no paired {py.name} (py:percent); run `make sync` after creating it"]
    if not ipynb.exists():
        return [f"{py.relative_to(ROOT)}: no paired {ipynb.name}; run `make sync`"]
    problems = []
    nb = nbformat.read(ipynb, as_version=4)
    if cells(nb) != cells(from_py(py)):
        problems.append(f"{rel}: out of sync with {py.name}; edit the .py and run `make sync`")
    if any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells):
        problems.append(f"{rel}: has outputs or execution counts; run `make sync` to strip them")
    if nb.metadata.get("jupytext", {}).get("formats") != FORMATS:
        problems.append(f"{rel}: jupytext formats metadata is not {FORMATS!r}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{rel}: kernelspec is not python3")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    if not code or "google.colab" not in code[0] or f"git+{url}" not in code[0]:
        problems.append(f"{rel}: the first code cell must install the package on Colab "
                        f"from git+{url} (the repository.url of _config.yml)")
    if str(rel.with_suffix("")) not in toc:
        problems.append(f"{rel}: not listed in _toc.yml")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--fix", action="store_true", help="regenerate each .ipynb from its .py")
    args = parser.parse_args()
    stems = {p.with_suffix("") for p in NB_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    stems |= {p.with_suffix("") for p in NB_DIR.rglob("*.py")}
    if args.fix:
        for stem in sorted(stems):
            py = stem.with_suffix(".py")
            if py.exists():
                nbformat.write(from_py(py), stem.with_suffix(".ipynb"))
                print(f"wrote {stem.with_suffix('.ipynb').relative_to(ROOT)}")
    url, toc = repository_url(), toc_files()
    problems = [p for stem in sorted(stems)
                for p in check(stem.with_suffix(".py"), stem.with_suffix(".ipynb"), url, toc)]
    for p in problems:
        print(p)
    print(f"checked {len(stems)} notebooks: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
