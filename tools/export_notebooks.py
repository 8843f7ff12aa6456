"""Export the course notebooks for Colab and Jupyter: a student and an instructor version.

The notebooks under ``notebooks/`` are written for the website (Jupyter Book, MyST):
``{cite}`` and ``{doc}`` roles, ``(label)=`` targets, ``:::{exercise}`` and
``:::{solution}`` blocks, admonitions. Colab and Jupyter show those as raw text, with
each solution right under its exercise. From every source ``notebooks/**/<name>.py``
(jupytext ``py:percent``, the source of truth) this tool writes

* ``colab/student/<chapter>/<name>.ipynb``: every ``{solution}`` block left out;
* ``colab/instructor/<chapter>/<name>.ipynb``: each solution kept, in its own Markdown
  cell headed "Solution to Exercise N" right after the exercise;

both in plain Jupyter Markdown: ``{doc}`` and ``{ref}`` become links to the website's
pages (``tools/check_notebooks.py``'s ``site_url`` of ``repository.url``), ``{cite}``
becomes "(Author et al., year)" linked to the website's references page (the entries
of ``bibtex_bibfiles`` of ``_config.yml``), an exercise becomes a cell that starts with
"**Exercise N**" (numbered as on the website: through the book in ``_toc.yml`` order),
admonitions become block quotes with a bold title, ``{mermaid}`` a ```` ```mermaid ````
fence, ``(label)=`` lines and ``%`` comments are dropped; ``$...$`` and ``$$...$$`` math
stays (Jupyter renders it). A short note after the first cell says which version it
is and links to the website's page. Code cells are copied unchanged, tags included
(the worked solutions of the programming-exercise notebooks are code cells: they
stay, those notebooks need them). The notebook metadata is the source notebook's
(kernel, the Colab and Kaggle GPU request) less jupytext's pairing (and its cells'
``lines_to_next_cell``); no outputs; cell ids are derived from the cells' contents, so
the same sources always give the same bytes. A role or directive this tool does not
know is an error, not raw text in a student's notebook.

    python tools/export_notebooks.py           # write colab/ from the sources
    python tools/export_notebooks.py --check   # exit 1, naming each generated notebook
                                               # that is missing, out of date, left over,
                                               # holds raw MyST or (student) a solution

``python tools/check_notebooks.py --fix`` (``make sync``) writes them too, and
``python tools/check_notebooks.py`` (``make check-notebooks``) runs the check.
"""

from __future__ import annotations

import argparse
import codecs
import copy
import hashlib
import importlib.util
import posixpath
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

# tools/check_notebooks.py (the website's address, the notebook metadata, the .py ->
# notebook conversion), loaded by path like check_notebooks loads source_map
_spec = importlib.util.spec_from_file_location(
    "check_notebooks", Path(__file__).resolve().parent / "check_notebooks.py"
)
check_notebooks = sys.modules.get("check_notebooks") or importlib.util.module_from_spec(
    _spec
)
if "check_notebooks" not in sys.modules:
    _spec.loader.exec_module(check_notebooks)

ROOT = Path(__file__).resolve().parent.parent
OUT = "colab"
AUDIENCES = ("student", "instructor")
SKIP = check_notebooks.SKIP

# MyST that must not reach a generated notebook's Markdown (what --check looks for);
# roles and targets are looked for outside code (`{doc}` in backticks is code)
RAW_MYST = {
    "a role such as {cite}`...`": re.compile(r"\{[A-Za-z][\w:+-]*\}`"),
    "a (label)= target": re.compile(r"^\s*\([^()\s]+\)=\s*$", re.M),
    "a ::: directive": re.compile(r"^\s*:{3,}\s*\{", re.M),
    "a ``` directive": re.compile(r"^\s*(`{3,}|~{3,})\s*\{", re.M),
}
SOLUTION_HEADING = "**Solution to "
HOW_TO_FIX = "run `make sync` (or `python tools/export_notebooks.py`)"
# cell metadata that only jupytext's pairing uses (blank lines in the .py): not copied
JUPYTEXT_CELL_KEYS = {"lines_to_next_cell", "lines_to_end_of_cell_marker"}

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>:{3,}|`{3,}|~{3,})(?P<rest>.*)$")
_DIRECTIVE = re.compile(r"^\s*\{(?P<name>[A-Za-z][\w:-]*)\}\s*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
_TARGET = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
# a role with its content, or a code span (left alone: `{doc}` inside code is code)
_INLINE = re.compile(
    r"\{(?P<role>[A-Za-z][\w:+-]*)\}(?P<tick>`+)(?P<content>.+?)(?<!`)(?P=tick)(?!`)"
    r"|(?P<code>`+).+?(?<!`)(?P=code)(?!`)",
    re.S,
)
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)

ADMONITIONS = {
    "note",
    "tip",
    "hint",
    "important",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "admonition",
}
CODE_ROLES = {
    "mod",
    "func",
    "class",
    "meth",
    "attr",
    "obj",
    "data",
    "exc",
    "const",
    "py:mod",
    "py:func",
    "py:class",
    "py:meth",
    "py:attr",
    "py:obj",
    "py:data",
    "py:exc",
    "py:const",
    "code",
    "samp",
    "file",
    "command",
    "program",
    "envvar",
}


class ExportError(ValueError):
    """A construct of a source notebook that cannot be exported (unknown role, label...)."""


# ---------------------------------------------------------------------------
# MyST blocks: plain lines, code fences, directives (nested)
# ---------------------------------------------------------------------------
@dataclass
class Directive:
    name: str
    arg: str
    options: dict
    body: list  # parsed blocks: str lines, Fence, Directive
    fence: str
    indent: str


@dataclass
class Fence:
    """A code fence that is not a directive (```python ...): copied verbatim."""

    lines: list


def parse(lines: list[str]) -> list:
    """The blocks of ``lines``: plain lines (str), ``Fence`` and ``Directive`` objects."""
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None or (m.group("fence")[0] == "`" and "`" in m.group("rest")):
            blocks.append(lines[i])  # (a ``` followed by more backticks is inline code)
            i += 1
            continue
        fence, indent = m.group("fence"), m.group("indent")
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = next(
            (k for k in range(i + 1, len(lines)) if close.match(lines[k])), len(lines)
        )
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[i + 1 : j]
        ]
        d = _DIRECTIVE.match(m.group("rest"))
        if d is None:
            blocks.append(Fence(lines[i : j + 1]))
        else:
            options, body = _options(body)
            name = d.group("name")
            content = (
                parse(body)
                if name not in ("mermaid", "math", "code", "code-block", "sourcecode")
                else [Fence(body)]
            )
            blocks.append(
                Directive(name, d.group("arg"), options, content, fence, indent)
            )
        i = j + 1
    return blocks


def _options(body: list[str]) -> tuple[dict, list[str]]:
    """A directive's ``:key: value`` lines (or ``---`` YAML block) and the rest of its body."""
    if body and body[0].strip() == "---":
        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), None)
        if end is not None:
            return dict(yaml.safe_load("\n".join(body[1:end])) or {}), body[end + 1 :]
    options, k = {}, 0
    while k < len(body) and (m := _OPTION.match(body[k])):
        options[m.group("key")] = m.group("value")
        k += 1
    return options, body[k:]


def walk(blocks):
    """Every Directive of ``blocks``, nested ones included, in document order."""
    for b in blocks:
        if isinstance(b, Directive):
            yield b
            yield from walk(b.body)


# ---------------------------------------------------------------------------
# what the whole book knows: titles, labels, exercise numbers, the bibliography
# ---------------------------------------------------------------------------
def toc_order(toc) -> list[str]:
    """The documents of a _toc.yml (``root`` and every ``file``) in reading order."""
    order = []

    def visit(node):
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    order.append(str(Path(node[key]).with_suffix("")))
            for key, value in node.items():
                if key not in ("root", "file"):
                    visit(value)

    visit(toc)
    return order


def notebook_sources(root: Path) -> list[Path]:
    """``notebooks/**/<name>.py`` files with ``# %%`` cells, sorted (not the lab sources
    ``<name>_lab.py``: their notebooks are the generated ``_pytorch`` and ``_keras`` ones)."""
    found = []
    for path in (root / "notebooks").rglob("*.py"):
        if SKIP & set(path.relative_to(root).parts) or path.stem.endswith("_lab"):
            continue
        if re.search(r"^# %%", path.read_text(encoding="utf-8"), re.M):
            found.append(path)
    return sorted(found)


def _plain(text: str) -> str:
    """LaTeX of a BibTeX field as plain text: accents decoded, braces dropped."""
    text = codecs.decode(text, "ulatex") if "\\" in text else text
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


def load_bibliography(paths: list[Path]) -> dict[str, tuple[str, str, str]]:
    """BibTeX key -> (authors as the website's author_year style shows them, year, title)."""
    import latexcodec  # noqa: F401  (registers the "ulatex" codec; a pybtex dependency)
    from pybtex.database import parse_file

    entries = {}
    for path in paths:
        for key, entry in parse_file(str(path), bib_format="bibtex").entries.items():
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [
                _plain(" ".join(p.prelast_names + p.last_names)) or _plain(str(p))
                for p in persons
            ]
            if len(names) >= 3:
                who = f"{names[0]} et al."
            else:
                who = " and ".join(names) or key
            entries[key] = (
                who,
                _plain(entry.fields.get("year", "n.d.")),
                _plain(entry.fields.get("title", "")),
            )
    return entries


def _lines_of(doc: Path) -> list[list[str]]:
    """The Markdown of a document, as a list of cells (a .md file is one cell)."""
    py, ipynb, md = (
        doc.with_suffix(".py"),
        doc.with_suffix(".ipynb"),
        doc.with_suffix(".md"),
    )
    if md.exists():
        text = md.read_text(encoding="utf-8")
        if text.startswith("---\n"):  # front matter
            end = text.find("\n---", 4)
            text = text[end + 4 :] if end >= 0 else text
        return [text.splitlines()]
    source = py if py.exists() else ipynb if ipynb.exists() else None
    if source is None:
        return []
    return [
        c.source.splitlines()
        for c in jupytext.read(source).cells
        if c.cell_type == "markdown"
    ]


def _strip_fences(lines: list[str]) -> list[str]:
    out, fence = [], None
    for line in lines:
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group("fence")
        elif fence is not None and re.fullmatch(
            rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", line
        ):
            fence = None
        elif fence is None:
            out.append(line)
    return out


@dataclass
class Book:
    """What the conversion needs to know about the whole book (read once)."""

    root: Path
    site: str  # https://OWNER.github.io/NAME/
    titles: dict = field(default_factory=dict)  # docname -> title
    # label -> (docname, default text or None)
    labels: dict = field(default_factory=dict)
    exercises: dict = field(default_factory=dict)  # exercise label -> (number, title)
    # docname -> number of its first exercise
    first_exercise: dict = field(default_factory=dict)
    bib: dict = field(default_factory=dict)  # key -> (who, year, title)
    references: str = "book/references"  # the page with the {bibliography}

    @classmethod
    def load(cls, root: Path = ROOT) -> Book:
        config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
        book = cls(
            root, check_notebooks.site_url(config["repository"]["url"].rstrip("/"))
        )
        book.bib = load_bibliography(
            [root / p for p in config.get("bibtex_bibfiles", [])]
        )
        order = toc_order(toc)
        extra = [
            str(p.relative_to(root).with_suffix("")) for p in notebook_sources(root)
        ]
        number = 0
        for doc in order + [d for d in extra if d not in order]:
            in_toc = doc in order
            if not in_toc:
                number = 0  # not on the website: numbered on its own
            book.first_exercise[doc] = number + 1
            cells = _lines_of(root / doc)
            for lines in cells:
                plain = _strip_fences(lines)
                if doc not in book.titles:
                    heading = next(
                        (
                            m.group(2)
                            for line in plain
                            if (m := _HEADING.match(line)) and len(m.group(1)) == 1
                        ),
                        None,
                    )
                    if heading:
                        book.titles[doc] = heading
                for k, line in enumerate(plain):
                    t = _TARGET.match(line)
                    if t:
                        after = next(
                            (m for m in map(_HEADING.match, plain[k + 1 :]) if m), None
                        )
                        book.labels.setdefault(
                            t.group("label"), (doc, after.group(2) if after else None)
                        )
                for d in walk(parse(lines)):
                    label = d.options.get("label")
                    if d.name == "exercise":
                        if "nonumber" not in d.options:
                            number += 1
                        if label:
                            book.exercises[label] = (
                                None if "nonumber" in d.options else number,
                                d.arg,
                            )
                            book.labels.setdefault(label, (doc, None))
                    elif label:
                        book.labels.setdefault(label, (doc, None))
            if doc.endswith("references") and any(
                "{bibliography}" in line for lines in cells for line in lines
            ):
                book.references = doc
            book.titles.setdefault(doc, Path(doc).name)
        return book

    def url(self, doc: str, anchor: str = "") -> str:
        return f"{self.site}{doc}.html" + (f"#{anchor}" if anchor else "")

    def exercise_name(self, label: str) -> str:
        number, _ = self.exercises[label]
        return "Exercise" if number is None else f"Exercise {number}"


# ---------------------------------------------------------------------------
# conversion of one Markdown cell
# ---------------------------------------------------------------------------
def _link_text(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


def _title_attr(text: str) -> str:
    return text.replace('"', "'")


class Converter:
    """Converts the Markdown of one source notebook (``doc``: its docname)."""

    def __init__(self, book: Book, doc: str, audience: str):
        if audience not in AUDIENCES:
            raise ValueError(f"audience: expected one of {AUDIENCES}, got {audience!r}")
        self.book, self.doc, self.audience = book, doc, audience
        self.where = doc
        self.number = book.first_exercise.get(doc, 1)  # of the next numbered exercise

    def fail(self, message: str):
        raise ExportError(f"{self.where}: {message}")

    # -- inline -----------------------------------------------------------
    def inline(self, text: str) -> str:
        return _INLINE.sub(
            lambda m: (
                m.group(0)
                if m.group("code")
                else self.role(m.group("role"), m.group("content"))
            ),
            text,
        )

    def role(self, name: str, content: str) -> str:
        explicit = _EXPLICIT.match(content)  # {role}`text <target>`
        text, target = (
            (explicit.group("text"), explicit.group("target").strip())
            if explicit
            else (None, content.strip())
        )
        if name == "doc":
            doc = self.resolve_doc(target)
            return (
                f"[{_link_text(text or self.book.titles[doc])}]({self.book.url(doc)})"
            )
        if name in ("ref", "numref"):
            return self.ref(name, text, target)
        if name == "eq":
            doc = self.label_doc(target)
            return f"[({text or target})]({self.book.url(doc, 'equation-' + target)})"
        if name == "cite" or name.startswith("cite:"):
            return self.cite(name, content)
        if name == "math":
            return f"${content}$"
        if name in CODE_ROLES:
            shown = text if text is not None else target.lstrip("~!")
            if (
                name.endswith(("func", "meth"))
                and text is None
                and not shown.endswith(")")
            ):
                shown += "()"
            return f"`{shown}`"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        if name in ("abbr", "term", "dfn", "guilabel", "menuselection"):
            return text if text is not None else content.replace("&", "")
        self.fail(f"the role {{{name}}} is not known to tools/export_notebooks.py")

    def resolve_doc(self, target: str) -> str:
        path = (
            target[1:]
            if target.startswith("/")
            else posixpath.join(posixpath.dirname(self.doc), target)
        )
        doc = posixpath.normpath(re.sub(r"\.(md|ipynb|py)$", "", path))
        if doc not in self.book.titles:
            self.fail(f"{{doc}}`{target}`: no such page in _toc.yml or notebooks/")
        return doc

    def label_doc(self, label: str) -> str:
        if label not in self.book.labels:
            self.fail(f"the label {label!r} is defined nowhere in the book")
        return self.book.labels[label][0]

    def ref(self, role: str, text, label: str) -> str:
        doc = self.label_doc(label)
        if label in self.book.exercises:
            name = self.book.exercise_name(label)
            number = name.split()[-1]
            shown = (
                text.replace("%s", number).replace("{number}", number) if text else name
            )
        elif text:
            shown = text
        else:
            shown = self.book.labels[label][1]
            if shown is None:
                self.fail(f"{{{role}}}`{label}` needs a text: `text <{label}>`")
        return f"[{_link_text(shown)}]({self.book.url(doc, label)})"

    def cite(self, role: str, content: str) -> str:
        textual = role.split(":")[-1] in ("t", "ts", "ct", "cts")
        parts = []
        for key in (k.strip() for k in content.split(",")):
            if key not in self.book.bib:
                self.fail(f"{{cite}}`{key}`: no such entry in the bibliography")
            who, year, title = self.book.bib[key]
            label = f"{who} ({year})" if textual else f"{who}, {year}"
            title = f' "{_title_attr(title)}"' if title else ""
            parts.append(
                f"[{_link_text(label)}]({self.book.url(self.book.references)}{title})"
            )
        return ", ".join(parts) if textual else "(" + "; ".join(parts) + ")"

    # -- blocks -----------------------------------------------------------
    def text(self, lines: list[str]) -> str:
        """Plain lines: targets and comments dropped, roles converted."""
        kept = [
            line
            for line in lines
            if not _TARGET.match(line) and not re.match(r"^\s*%", line)
        ]
        return self.inline("\n".join(kept))

    def render(self, blocks: list) -> str:
        """Blocks as Markdown (solutions dropped for students, kept inline otherwise)."""
        out, plain = [], []
        for block in blocks + [None]:
            if isinstance(block, str):
                plain.append(block)
                continue
            if plain:
                out.append(self.text(plain))
                plain = []
            if isinstance(block, Fence):
                out.append("\n".join(block.lines))
            elif isinstance(block, Directive):
                kind, md = self.directive(block)
                if kind != "solution" or self.audience == "instructor":
                    out.append(md)
        return "\n".join(out)

    def directive(self, d: Directive) -> tuple[str, str]:
        """``(kind, markdown)`` of a directive; kind is "exercise", "solution" or "text"."""
        name, indent = d.name, d.indent
        if name == "exercise":
            heading = "Exercise"
            if "nonumber" not in d.options:
                heading += f" {self.number}"
                self.number += 1
            heading += f": {self.inline(d.arg)}" if d.arg else ""
            return "exercise", self.indented(
                f"**{heading}**\n\n{self.render(d.body).strip()}", indent
            )
        if name == "solution":
            if d.arg not in self.book.exercises:
                self.fail(f"{{solution}} {d.arg!r}: expected the label of an exercise")
            heading = f"{SOLUTION_HEADING}{self.book.exercise_name(d.arg)}**"
            return "solution", self.indented(
                f"{heading}\n\n{self.render(d.body).strip()}", indent
            )
        if name in ADMONITIONS:
            body = self.render(d.body).strip()
            if name == "admonition":  # {admonition} Title
                title = self.inline(d.arg) or "Note"
            else:
                # {note} text: the text on the directive's line is the start of its body
                title = "See also" if name == "seealso" else name.capitalize()
                body = f"{self.inline(d.arg)}\n{body}".strip() if d.arg else body
            quoted = "\n".join(
                f"> {line}".rstrip() for line in f"**{title}**\n\n{body}".splitlines()
            )
            return "text", self.indented(quoted, indent)
        if name == "mermaid":
            return "text", self.indented(
                "```mermaid\n" + "\n".join(d.body[0].lines) + "\n```", indent
            )
        if name == "math":
            return "text", self.indented(
                "$$\n" + "\n".join(d.body[0].lines).strip() + "\n$$", indent
            )
        if name in ("code", "code-block", "sourcecode"):
            return "text", self.indented(
                f"```{d.arg}\n" + "\n".join(d.body[0].lines) + "\n```", indent
            )
        self.fail(f"the directive {{{name}}} is not known to tools/export_notebooks.py")

    @staticmethod
    def indented(text: str, indent: str) -> str:
        return "\n".join(indent + line if line else line for line in text.splitlines())

    def cell(self, source: str) -> list[tuple[str, str]]:
        """One Markdown cell as ``(kind, markdown)`` pieces, each a cell of its own:
        top-level exercises and solutions are split from the text around them."""
        pieces, pending = [], []
        for block in parse(source.splitlines()) + [None]:
            if (
                isinstance(block, Directive)
                and block.name in ("exercise", "solution")
                or block is None
            ):
                if pending:
                    pieces.append(("text", self.render(pending)))
                    pending = []
                if block is not None:
                    pieces.append(self.directive(block))
            else:
                pending.append(block)
        return [
            (kind, md.strip("\n"))
            for kind, md in pieces
            if md.strip() and (kind != "solution" or self.audience == "instructor")
        ]


# ---------------------------------------------------------------------------
# notebooks
# ---------------------------------------------------------------------------
def outputs(py: Path, root: Path) -> dict[str, Path]:
    """Where the student and instructor versions of ``py`` go."""
    rel = py.relative_to(root / "notebooks").with_suffix(".ipynb")
    return {a: root / OUT / a / rel for a in AUDIENCES}


def _cell_id(cell, used: set) -> str:
    cid = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
    while cid in used:
        cid = hashlib.sha1(cid.encode()).hexdigest()[:8]
    used.add(cid)
    return cid


def banner(book: Book, doc: str, audience: str, has_solutions: bool) -> str:
    page = f"[{_link_text(book.titles[doc])}]({book.url(doc)})"
    if audience == "student":
        rest = " The solutions of its exercises are left out." if has_solutions else ""
        return f"*This is the student version of the course page {page}, for Colab and Jupyter.{rest}*"
    rest = " The solution of each exercise follows it." if has_solutions else ""
    return f"*This is the instructor version of the course page {page}, for Colab and Jupyter.{rest}*"


def export(py: Path, book: Book, audience: str):
    """The ``audience`` version of the notebook ``py`` (an ``nbformat`` notebook)."""
    source = check_notebooks.from_py(py)
    doc = str(py.relative_to(book.root).with_suffix(""))
    converter = Converter(book, doc, audience)
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(source.metadata)
    # no pairing: Jupyter must not write a .py beside it
    nb.metadata.pop("jupytext", None)
    cells, solutions = [], False
    for n, cell in enumerate(source.cells, start=1):
        metadata = {
            key: copy.deepcopy(value)
            for key, value in cell.metadata.items()
            if key not in JUPYTEXT_CELL_KEYS
        }
        if cell.cell_type != "markdown":
            new = (
                nbformat.v4.new_code_cell(cell.source)
                if cell.cell_type == "code"
                else nbformat.v4.new_raw_cell(cell.source)
            )
            new.metadata = metadata
            cells.append(new)
            continue
        converter.where = f"{py.relative_to(book.root)}, cell {n}"
        for _, md in converter.cell(cell.source):
            new = nbformat.v4.new_markdown_cell(md)
            new.metadata = copy.deepcopy(metadata)
            cells.append(new)
        solutions |= any(
            isinstance(d, Directive) and d.name == "solution"
            for d in walk(parse(cell.source.splitlines()))
        )
    note = nbformat.v4.new_markdown_cell(banner(book, doc, audience, solutions))
    at = 1 if cells and cells[0].cell_type == "markdown" else 0
    cells.insert(at, note)
    used: set = set()
    for cell in cells:
        cell.id = _cell_id(cell, used)
    nb.cells = cells
    return nb


def render_notebook(nb) -> str:
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def generated(
    root: Path = ROOT, sources: list[Path] | None = None, book: Book | None = None
) -> dict[Path, str]:
    """Every generated notebook of ``sources`` (default: all) and its text."""
    book = book or Book.load(root)
    result = {}
    for py in sources if sources is not None else notebook_sources(root):
        for audience, path in outputs(py, root).items():
            result[path] = render_notebook(export(py, book, audience))
    return result


def existing(root: Path) -> list[Path]:
    return sorted(
        p
        for a in AUDIENCES
        for p in (root / OUT / a).rglob("*.ipynb")
        if not SKIP & set(p.relative_to(root).parts)
    )


def write(root: Path = ROOT, sources: list[Path] | None = None) -> list[Path]:
    """Write the generated notebooks (and, for all sources, delete left-over ones)."""
    wanted = generated(root, sources)
    written = []
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    if sources is None:
        for path in existing(root):
            if path not in wanted:
                path.unlink()
                written.append(path)
    return written


def fix(root: Path = ROOT, sources: list[Path] | None = None) -> list[str]:
    """``write``, as lines to print (an ExportError is one line; ``problems`` reports it too)."""
    try:
        return [
            f"{'wrote' if p.exists() else 'deleted'} {p.relative_to(root)}"
            for p in write(root, sources)
        ]
    except ExportError as e:
        return [f"tools/export_notebooks.py: {e}"]


def raw_myst(markdown: str) -> list[tuple[str, str]]:
    """``(what, text)`` of each piece of MyST syntax in ``markdown``."""
    outside_code = _INLINE.sub(
        lambda m: "" if m.group("code") else m.group(0), markdown
    )
    return [
        (what, m.group(0).strip())
        for k, (what, pattern) in enumerate(RAW_MYST.items())
        for m in pattern.finditer(outside_code if k < 2 else markdown)
    ]


def myst_problems(rel, nb, audience: str) -> list[str]:
    """Raw MyST in the Markdown of a generated notebook; a solution in a student's."""
    problems = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for what, text in raw_myst(cell.source):
            problems.append(
                f"{rel}: Markdown cell {k + 1} has raw MyST, {what}: {text!r}"
            )
        if audience == "student" and cell.source.lstrip().startswith(SOLUTION_HEADING):
            problems.append(
                f"{rel}: Markdown cell {k + 1} is a solution, in a student notebook"
            )
    return problems


def problems(root: Path = ROOT, sources: list[Path] | None = None) -> list[str]:
    """What --check reports: one line per problem."""
    try:
        book = Book.load(root)
        wanted = generated(root, sources, book)
    except ExportError as e:
        return [f"tools/export_notebooks.py: {e}"]
    found = []
    # student path -> the texts of the solutions its instructor version has
    solutions = {}
    for path, text in wanted.items():
        audience, *rest = path.relative_to(root / OUT).parts
        if audience == "instructor":
            nb = nbformat.reads(text, as_version=4)
            solutions[root / OUT / "student" / Path(*rest)] = [
                c.source.split("\n", 1)[-1].strip()
                for c in nb.cells
                if c.cell_type == "markdown" and c.source.startswith(SOLUTION_HEADING)
            ]
    for path, text in wanted.items():
        rel = path.relative_to(root)
        if not path.exists():
            found.append(f"{rel}: missing; {HOW_TO_FIX}")
            continue
        on_disk = path.read_text(encoding="utf-8")
        if on_disk != text:
            found.append(f"{rel}: out of date with its source; {HOW_TO_FIX}")
        try:
            nb = nbformat.reads(on_disk, as_version=4)
        except Exception as e:
            found.append(f"{rel}: not a notebook ({type(e).__name__}); {HOW_TO_FIX}")
            continue
        audience = path.relative_to(root / OUT).parts[0]
        found += myst_problems(rel, nb, audience)
        if audience == "student":
            markdown = "\n".join(
                c.source for c in nb.cells if c.cell_type == "markdown"
            )
            if any(s and s in markdown for s in solutions.get(path, [])):
                found.append(
                    f"{rel}: holds the text of a solution (a student notebook must not)"
                )
    if sources is None:
        for path in existing(root):
            if path not in wanted:
                found.append(
                    f"{path.relative_to(root)}: no source notebook; {HOW_TO_FIX} to delete it"
                )
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a generated notebook is missing or stale",
    )
    parser.add_argument(
        "paths", nargs="*", help="only these source notebooks (.py); default: all"
    )
    args = parser.parse_args(argv)
    sources = None
    if args.paths:
        sources = [Path(p).resolve().with_suffix(".py") for p in args.paths]
        missing = [str(p) for p in sources if p not in notebook_sources(ROOT)]
        if missing:
            print("not source notebooks: " + ", ".join(missing))
            return 1
    if not args.check:
        for line in fix(ROOT, sources):
            print(line)
    found = problems(ROOT, sources)
    for line in found:
        print(line)
    count = len(sources) if sources is not None else len(notebook_sources(ROOT))
    print(
        f"exported {count} notebooks ({2 * count} files under {OUT}/): {len(found)} problem(s)"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
