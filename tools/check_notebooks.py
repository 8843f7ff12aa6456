"""Check (or fix) the course notebooks.

Every ``notebooks/**/<name>.ipynb`` has a twin ``<name>.py`` in jupytext's
``py:percent`` format; the ``.py`` is the source of truth, except for a lab: its
``<name>_pytorch.py`` and ``<name>_keras.py`` are generated from the one lab source
``<name>_lab.py`` (``tools/lab_sources.py``), which is what you edit. Cells that mirror
the package (``mirrors="aigc_course...."``) must read as the package's code
(``tools/page_code.py``). For each pair, check that

(a) both files exist;
(b) they hold the same cells (types, tags and sources, trailing whitespace ignored);
(c) the ``.ipynb`` has no outputs and no execution counts;
(d) its metadata has the ``python3`` kernelspec, jupytext formats ``ipynb,py:percent``
    and asks Colab and Kaggle for a GPU runtime (``GPU_METADATA``);
(e) its first code cell is the install cell (``install_cell``): it imports
    ``aigc_course`` and only if that fails pip-installs it, with the extras that notebook
    needs, from ``git+<repository.url>@<repository.install_ref>``, both set once in
    ``_config.yml``; the ref must be pinned (a release tag ``v<version of pyproject.toml>``
    or a commit), never a branch;
(f) a lab (``*_pytorch``, ``*_keras``) calls ``check_gpu()`` before its first ``pick``,
    ``is_fast`` or ``run_dir``, and writes no checkpoints to a fixed ``checkpoints/``
    folder (``run_dir`` names run folders after their settings);
(g) it is listed in ``_toc.yml`` (a warning only).

It also checks that the tables of labs in ``README.md`` (with Open-in-Colab and
Open-in-Kaggle badges) and ``book/preface.md`` (plain links: the site makes no external
requests) list every lab, between the markers ``labs:begin`` and ``labs:end``, and that
both name the website; with ``tools/source_map.py``, that ``book/source_map.md`` and
the errata's tables are up to date and every target of ``book/sources.yml`` exists; and,
with ``tools/export_notebooks.py``, that the student and instructor notebooks under
``colab/`` (plain Jupyter Markdown, which the tables' launch links open) are up to date.

    python tools/check_notebooks.py        # one line per problem; exit 1 if any
    python tools/check_notebooks.py --fix  # rewrite each .ipynb from its .py (after
                                           # updating the .py's install cell), the tables
                                           # and colab/ (tools/export_notebooks.py)
    python tools/check_notebooks.py --fix notebooks/04_vaes/vae_concepts.py  # only this one
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

# tools/lab_sources.py (one source per lab -> its PyTorch and Keras notebooks), by path
_spec = importlib.util.spec_from_file_location(
    "lab_sources", Path(__file__).resolve().parent / "lab_sources.py"
)
lab_sources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_sources)

# tools/page_code.py (lab cells that write out the package's code, checked equal to it)
_spec = importlib.util.spec_from_file_location(
    "page_code", Path(__file__).resolve().parent / "page_code.py"
)
page_code = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page_code)

# tools/source_map.py (the source map page and the errata's tables), loaded by path so
# that this file also works when imported as a module (tests/test_notebook_setup.py)
_spec = importlib.util.spec_from_file_location(
    "source_map", Path(__file__).resolve().parent / "source_map.py"
)
source_map = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(source_map)

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
FORMATS = "ipynb,py:percent"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
SKIP = {".ipynb_checkpoints", "_build", "__pycache__"}  # folders not searched
# Colab opens a notebook on the runtime its metadata asks for (a T4 GPU here); Kaggle
# reads its own key (undocumented; the form Kaggle writes into the notebooks it exports).
GPU_METADATA = {
    "accelerator": "GPU",
    "colab": {"gpuType": "T4", "provenance": []},
    "kaggle": {
        "accelerator": "nvidiaTeslaT4",
        "isGpuEnabled": True,
        "isInternetEnabled": True,
        "language": "python",
        "sourceType": "notebook",
        "dataSources": [],
    },
}
PACKAGE = "aigc-course"
LAB_SUFFIXES = ("_pytorch", "_keras")
README, PREFACE = ROOT / "README.md", ROOT / "book" / "preface.md"
BEGIN, END = "labs:begin", "labs:end"


def load_yaml(name: str):
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def repository() -> dict:
    """``repository`` of _config.yml: ``url`` (no trailing slash), ``branch``, ``install_ref``."""
    repo = dict(load_yaml("_config.yml")["repository"])
    repo["url"] = repo["url"].rstrip("/")
    return repo


def project_version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)


def ref_problems(ref, branch: str, version: str) -> list[str]:
    """Why ``repository.install_ref`` is not a pinned ref for this version (empty if it is)."""
    where = "_config.yml: repository.install_ref"
    if not isinstance(ref, str) or not ref:
        return [
            f"{where} is missing: set it to the release tag v{version} (or a commit)"
        ]
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return []
    if ref == branch or not re.fullmatch(r"v\d+(\.\d+)*([a-z0-9.+-]*)", ref):
        return [
            f"{where} is {ref!r}: expected a release tag such as v{version} or a full "
            "40-digit commit, not a branch (a branch moves under the notebooks)"
        ]
    if ref != f"v{version}":
        return [
            f"{where} is {ref!r} but pyproject.toml's version is {version}: expected v{version}"
        ]
    return []


def is_lab(stem: Path) -> bool:
    return stem.name.endswith(LAB_SUFFIXES)


def extras(stem: Path) -> list[str]:
    """The extras a notebook installs: its framework, and ``privacy`` if it uses Opacus."""
    py = stem.with_suffix(".py")
    source = py.read_text(encoding="utf-8") if py.exists() else ""
    found = (
        ["torch"]
        if stem.name.endswith("_pytorch")
        else ["keras"]
        if stem.name.endswith("_keras")
        else []
    )
    if re.search(r"^\s*(from|import) opacus\b", source, re.M):
        found.append("privacy")
    return found


def install_cell(stem: Path, url: str, ref: str) -> str:
    """The first code cell of ``stem`` as it reads in the .py (the magic commented out)."""
    spec = PACKAGE + (f"[{','.join(extras(stem))}]" if extras(stem) else "")
    return (
        "# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);\n"
        "# where it is installed already, this cell does nothing.\n"
        "import importlib\n"
        "\n"
        "try:\n"
        '    importlib.import_module("aigc_course")\n'
        "except ImportError:\n"
        '    print("Installing the course package (about a minute) ...")\n'
        f'    # %pip install -q "{spec} @ git+{url}@{ref}"'
    )


def as_notebook_source(py_source: str) -> str:
    """A cell's source as jupytext puts it in the .ipynb: commented magics become magics."""
    return re.sub(r"^(\s*)# (%pip\b)", r"\1\2", py_source, flags=re.M)


_CODE_MARKER = re.compile(r"^# %%(?! \[markdown\]| \[md\]).*$", re.M)
_ANY_MARKER = re.compile(r"^# %%.*$", re.M)


def fix_install_cell(py: Path, url: str, ref: str) -> bool:
    """Make the first code cell of ``py`` the install cell; True if the file changed.

    A first code cell that is empty or installs something is replaced; any other is kept,
    with the install cell inserted before it."""
    text = py.read_text(encoding="utf-8")
    first = _CODE_MARKER.search(text)
    if first is None:
        return False
    nxt = _ANY_MARKER.search(text, first.end())
    end = nxt.start() if nxt else len(text)
    cell = install_cell(py.with_suffix(""), url, ref)
    body = text[first.end() : end].strip()
    # a real first cell: keep it, after the install cell
    if body and "pip install" not in body:
        new = text[: first.start()] + "# %%\n" + cell + "\n\n" + text[first.start() :]
    else:
        new = (
            text[: first.end()]
            + "\n"
            + cell
            + "\n"
            + ("\n" if nxt else "")
            + text[end:]
        )
    if new == text:
        return False
    py.write_text(new, encoding="utf-8")
    return True


def toc_files() -> set[str]:
    """Every ``file:`` and the ``root:`` of _toc.yml, without extension."""

    def walk(node) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(walk, node))
        if isinstance(node, dict):
            own = {
                str(Path(v).with_suffix(""))
                for k, v in node.items()
                if k in ("file", "root")
            }
            return own.union(*map(walk, node.values()))
        return set()

    return walk(load_yaml("_toc.yml"))


def stems() -> list[Path]:
    """Notebook paths without extension: each .ipynb, and each .py that has ``# %%`` cells
    (not the lab sources ``<name>_lab.py``, which tools/lab_sources.py turns into notebooks)."""
    found = set()
    for path in NB_DIR.rglob("*"):
        if SKIP & set(path.relative_to(NB_DIR).parts) or path.stem.endswith(
            lab_sources.SOURCE_SUFFIX
        ):
            continue
        text = path.read_text(encoding="utf-8") if path.suffix == ".py" else ""
        if path.suffix == ".ipynb" or re.search(r"^# %%", text, re.M):
            found.add(path.with_suffix(""))
    return sorted(found)


def cells(nb) -> list[tuple]:
    """What must agree between the twins: type, tags and source of every cell."""

    def norm(src: str) -> str:
        return "\n".join(line.rstrip() for line in src.strip().splitlines())

    return [
        (c.cell_type, tuple(c.metadata.get("tags", [])), norm(c.source))
        for c in nb.cells
    ]


def from_py(py: Path, old_ipynb: Path | None = None):
    """The notebook of a .py, stripped, with stable cell ids (kept from ``old_ipynb``)."""
    nb = jupytext.read(py)
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.update(copy.deepcopy(GPU_METADATA))
    old = (
        nbformat.read(old_ipynb, as_version=4).cells
        if old_ipynb and old_ipynb.exists()
        else []
    )
    free = {(c.cell_type, c.source): c.get("id") for c in reversed(old) if c.get("id")}
    used: set[str] = set()
    for c in nb.cells:
        cid = free.pop((c.cell_type, c.source), None)
        # a new or edited cell: an id derived from its content
        if cid is None or cid in used:
            cid = hashlib.sha1(f"{c.cell_type}\n{c.source}".encode()).hexdigest()[:8]
        while cid in used:
            cid = hashlib.sha1(cid.encode()).hexdigest()[:8]
        c.id = cid
        used.add(cid)
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def fix(stem: Path, url: str, ref: str) -> None:
    """Write the .ipynb from the .py (first the .py from the .ipynb if there is no .py),
    after setting the .py's install cell to the one ``install_cell`` writes."""
    py, ipynb = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
    if not py.exists():
        jupytext.write(jupytext.read(ipynb), py, fmt="py:percent")
        print(f"wrote {py.relative_to(ROOT)} from its .ipynb")
    if fix_install_cell(py, url, ref):
        print(f"updated the install cell of {py.relative_to(ROOT)}")
    jupytext.write(from_py(py, ipynb), ipynb)
    print(f"wrote {ipynb.relative_to(ROOT)}")


_CALL = r"(?<![\w.])({names})\("


def lab_problems(rel: Path, code: list[str]) -> list[str]:
    """check_gpu() before the first pick/is_fast/run_dir; no fixed checkpoints/ folder."""
    text = "\n".join(
        line
        for src in code
        for line in src.splitlines()
        if not line.lstrip().startswith(("from ", "import ", "#"))
    )
    problems = []
    gpu = re.search(_CALL.format(names="check_gpu"), text)
    first = re.search(_CALL.format(names="pick|is_fast|run_dir"), text)
    if gpu is None or (first is not None and first.start() < gpu.start()):
        problems.append(
            f"{rel}: a lab must call check_gpu() (from aigc_course) after its framework "
            "import and before the first pick(), is_fast() or run_dir()"
        )
    if re.search(r"""["']checkpoints/""", text):
        problems.append(
            f"{rel}: checkpoints go to run_dir(name, **settings), not a fixed "
            "'checkpoints/...' folder (it would resume a run with other settings)"
        )
    return problems


def check(stem: Path, url: str, ref: str, toc: set[str]) -> tuple[list[str], list[str]]:
    """Problems and warnings of one notebook pair."""
    py, ipynb = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
    rel = ipynb.relative_to(ROOT)
    if not py.exists():
        return [
            f"{rel}: no paired {py.name} (py:percent); run `make sync` to create it"
        ], []
    if not ipynb.exists():
        return [
            f"{py.relative_to(ROOT)}: no paired {ipynb.name}; run `make sync` to create it"
        ], []
    problems = []
    nb = nbformat.read(ipynb, as_version=4)
    if cells(nb) != cells(jupytext.read(py)):
        problems.append(
            f"{rel}: out of sync with {py.name}; edit the .py and run `make sync`"
        )
    if any(
        c.get("outputs") or c.get("execution_count")
        for c in nb.cells
        if c.cell_type == "code"
    ):
        problems.append(
            f"{rel}: has outputs or execution counts; run `make sync` to strip them"
        )
    if nb.metadata.get("jupytext", {}).get("formats") != FORMATS:
        problems.append(f"{rel}: jupytext formats metadata is not {FORMATS!r}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{rel}: kernelspec is not python3")
    wrong = [k for k, v in GPU_METADATA.items() if nb.metadata.get(k) != v]
    if wrong:
        problems.append(
            f"{rel}: notebook metadata {', '.join(wrong)} must ask for a GPU runtime "
            f"({GPU_METADATA['accelerator']}, {GPU_METADATA['colab']['gpuType']}); "
            "run `make sync`"
        )
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    expected = as_notebook_source(install_cell(stem, url, ref))
    if not code or code[0].strip() != expected.strip():
        problems.append(
            f"{rel}: the first code cell must be the install cell for "
            f"{PACKAGE}[{','.join(extras(stem))}] at {ref} (repository.url and "
            "repository.install_ref of _config.yml); run `make sync` to write it"
        )
    if is_lab(stem):
        problems += lab_problems(rel, code)
    listed = str(rel.with_suffix("")) in toc
    return problems, [] if listed else [f"{rel}: not listed in _toc.yml (warning)"]


# ---------------------------------------------------------------------------
# the tables of labs in README.md and book/preface.md
# ---------------------------------------------------------------------------
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE = "https://kaggle.com/static/images/open-in-kaggle.svg"


def site_url(url: str) -> str:
    """The GitHub Pages address of a github.com repository: https://OWNER.github.io/NAME/."""
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(\.git)?", url)
    if m is None:
        raise ValueError(
            f"repository.url: expected https://github.com/OWNER/NAME, got {url!r}"
        )
    return f"https://{m.group(1).lower()}.github.io/{m.group(2)}/"


def lab_rows(repo: dict) -> list[dict]:
    """One row per lab notebook: chapter, title (its first heading), page and launch links."""
    rows = []
    for stem in stems():
        if not is_lab(stem) or not stem.with_suffix(".py").exists():
            continue
        rel = stem.relative_to(ROOT).as_posix()
        first = next(
            (
                c.source
                for c in jupytext.read(stem.with_suffix(".py")).cells
                if c.cell_type == "markdown"
            ),
            "",
        )
        title = re.search(r"^#\s+(.+)$", first, re.M)
        # the launch links open the notebooks that tools/export_notebooks.py writes
        blob, teacher = (
            f"{repo['url']}/blob/{repo.get('branch', 'main')}/colab/{who}/"
            f"{stem.relative_to(NB_DIR).as_posix()}.ipynb"
            for who in ("student", "instructor")
        )
        rows.append(
            {
                "chapter": int(stem.parent.name.split("_")[0]),
                "title": (title.group(1) if title else stem.name)
                .strip()
                .replace("|", "\\|"),
                "rel": rel,
                "colab": "https://colab.research.google.com/github/"
                + blob.split("https://github.com/", 1)[1],
                "kaggle": "https://kaggle.com/kernels/welcome?src=" + blob,
                "instructor": (
                    "https://colab.research.google.com/github/"
                    + teacher.split("https://github.com/", 1)[1]
                ),
            }
        )
    # by chapter, then notebook, the PyTorch lab before its Keras twin
    return sorted(
        rows,
        key=lambda r: (
            r["chapter"],
            r["rel"].replace("_pytorch", "_0").replace("_keras", "_1"),
        ),
    )


def render_table(kind: str, repo: dict) -> str:
    """The generated block of ``README`` (badges) or ``preface`` (plain links, no images)."""
    site = site_url(repo["url"])
    if kind == "README":
        lines = [
            f"<!-- {BEGIN}: generated by `python tools/check_notebooks.py --fix` -->",
            "| chapter | lab | run it on | with solutions (instructors) |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r['chapter']} | [{r['title']}]({site}{r['rel']}.html) | "
            f"[![Open in Colab]({COLAB_BADGE})]({r['colab']}) "
            f"[![Open in Kaggle]({KAGGLE_BADGE})]({r['kaggle']}) | "
            f"[Colab]({r['instructor']}) |"
            for r in lab_rows(repo)
        ]
        return "\n".join(lines + [f"<!-- {END} -->"])
    lines = [
        f"% {BEGIN}: generated by `python tools/check_notebooks.py --fix`",
        "| chapter | lab | run it on | with solutions (instructors) |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['chapter']} | {{doc}}`{r['title']} <../{r['rel']}>` | "
        f"[Colab]({r['colab']}) · [Kaggle]({r['kaggle']}) | "
        f"[Colab]({r['instructor']}) |"
        for r in lab_rows(repo)
    ]
    return "\n".join(lines + [f"% {END}"])


def _block(text: str) -> tuple[int, int] | None:
    """Start and end offsets of the generated block (its marker lines included)."""
    begin = re.search(rf"^.*\b{BEGIN}\b.*$", text, re.M)
    end = re.search(rf"^.*\b{END}\b.*$", text, re.M)
    if begin is None or end is None or end.start() < begin.start():
        return None
    return begin.start(), end.end()


def fix_tables(repo: dict) -> list[Path]:
    written = []
    for path, kind in ((README, "README"), (PREFACE, "preface")):
        text = path.read_text(encoding="utf-8")
        span = _block(text)
        if span is None:
            continue  # no markers: table_problems says where they go
        new = text[: span[0]] + render_table(kind, repo) + text[span[1] :]
        if new != text:
            path.write_text(new, encoding="utf-8")
            written.append(path)
    return written


def table_problems(repo: dict) -> list[str]:
    problems = []
    for path, kind in ((README, "README"), (PREFACE, "preface")):
        rel = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")
        span = _block(text)
        if span is None:
            problems.append(
                f"{rel}: no table of labs (lines with the markers {BEGIN} and {END})"
            )
        elif text[span[0] : span[1]] != render_table(kind, repo):
            problems.append(f"{rel}: the table of labs is out of date; run `make sync`")
        if site_url(repo["url"]) not in text:
            problems.append(
                f"{rel}: does not give the website's address {site_url(repo['url'])}"
            )
    return problems


def _load(name: str):
    """A module of tools/, by path (this file is also imported as a module by the tests)."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parent / f"{name}.py"
    )
    # (dataclasses need it)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fix", action="store_true", help="regenerate each .ipynb from its .py"
    )
    parser.add_argument(
        "paths", nargs="*", help="only these notebooks (.py or .ipynb); default: all"
    )
    args = parser.parse_args()
    notebooks = stems()
    if args.paths:
        wanted = {Path(p).resolve().with_suffix("") for p in args.paths}
        notebooks = [s for s in notebooks if s in wanted]
        missing = wanted - set(notebooks)
        if missing:
            print("not notebooks: " + ", ".join(sorted(map(str, missing))))
            return 1
    repo, toc = repository(), toc_files()
    url, ref = repo["url"], repo.get("install_ref")
    problems = ref_problems(ref, repo.get("branch", "main"), project_version())
    for line in problems:
        print(line)
    if problems:  # every install cell would be wrong: say why once
        print(f"checked {len(notebooks)} notebooks: {len(problems)} problem(s)")
        return 1
    # for export_notebooks
    sys.modules.setdefault("check_notebooks", sys.modules[__name__])
    export = _load("export_notebooks")
    if args.fix:
        # first the package's code into the cells that mirror it, the code cells of the
        # sources formatted (tools/format_cells.py), then the PyTorch and Keras sources of
        # each lab from its one source (install cell included), then every notebook from
        # its .py
        page_code.run(ROOT, fix=True)
        for path in _load("format_cells").run(ROOT, fix=True):
            print(f"formatted the code cells of {path.relative_to(ROOT)}")
        for path in lab_sources.fix(
            ROOT, install=lambda stem: install_cell(stem, url, ref)
        ):
            print(
                f"wrote {path.relative_to(ROOT)} from its lab source (tools/lab_sources.py)"
            )
        for stem in notebooks:
            fix(stem, url, ref)
        # all of colab/: exercise numbers run through the book
        for line in export.fix(ROOT):
            print(line)
        if not args.paths:
            for path in fix_tables(repo):
                print(f"wrote the table of labs in {path.relative_to(ROOT)}")
            for path in source_map.fix():
                print(f"wrote {path.relative_to(ROOT)} (tools/source_map.py)")
    for stem in notebooks:
        found, warnings = check(stem, url, ref, toc)
        problems += found
        for line in found + warnings:
            print(line)
    found = lab_sources.problems(ROOT) + page_code.run(ROOT)
    problems += found
    for line in found:
        print(line)
    found = export.problems(
        ROOT,
        [s.with_suffix(".py") for s in notebooks if s.with_suffix(".py").exists()]
        if args.paths
        else None,
    )
    problems += found
    for line in found:
        print(line)
    if not args.paths:
        found = table_problems(repo) + source_map.problems()
        problems += found
        for line in found:
            print(line)
    print(f"checked {len(notebooks)} notebooks: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
