"""tools/export_notebooks.py: student and instructor notebooks in plain Jupyter Markdown.

Most tests build a small book in a temporary folder (config, table of contents,
bibliography, two notebooks and a page) and export it; the last ones check the
course's own notebooks under colab/ and the website's Colab launch button.
"""

import importlib.util
import json
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = _load("export_notebooks", ROOT / "tools" / "export_notebooks.py")
SITE = "https://aigc-course.github.io/aigc-course/"

HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""
INSTALL = """# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course @ git+https://github.com/aigc-course/aigc-course@v0.3.0"
"""
CONCEPTS = (
    HEADER
    + """
# %% [markdown]
# # Toy concepts
#
# GANs {cite}`goodfellow2014gan` and VAEs {cite}`kingma2013vae,vandenoord2016pixelrnn`;
# see {doc}`b_pytorch` and {doc}`the references <../../book/references>`. Code stays
# code: `{doc}` and ``{cite}`x` ``.

"""
    + INSTALL
    + """
# %% [markdown]
# (toy-minimax)=
# ## 1. The minimax game
#
# The value {math}`V(D, G)` of {mod}`aigc_course.toy_gan`, and $$x^2$$.
#
# ```{admonition} Fast mode
# :class: tip
# It trains for seconds; {ref}`toy-ex-d` asks why.
# ```
#
# :::{note}
# Short.
# :::
#
# ```{mermaid}
# flowchart LR
#     A --> B
# ```

# %% tags=["hide-input"]
x = 1  # {cite}`not_a_role_in_code`

# %% [markdown]
# ## Exercises
#
# :::{exercise}
# :label: toy-ex-d
# Derive the optimal discriminator.
# :::
#
# :::{solution} toy-ex-d
# :class: dropdown
# SECRET-ONE: $D^* = p / (p + q)$.
# :::
#
# :::{exercise}
# :label: toy-ex-k
# Vary $k$ (see {ref}`the game <toy-minimax>`).
# :::
#
# :::{solution} toy-ex-k
# :class: dropdown
# SECRET-TWO.
# :::
"""
)
LAB = (
    HEADER
    + """
# %% [markdown]
# # Toy lab (PyTorch)
#
# Back to {ref}`toy-minimax`; {ref}`toy-ex-k` is in {doc}`toy_concepts`.

"""
    + INSTALL
    + """
# %%
print("lab")
"""
)
BIB = r"""
@inproceedings{goodfellow2014gan,
  author = {Goodfellow, Ian and Pouget-Abadie, Jean and Mirza, Mehdi},
  title = {Generative Adversarial Nets},
  year = {2014}
}
@misc{kingma2013vae,
  author = {Kingma, Diederik P. and Welling, Max},
  title = {Auto-Encoding Variational {B}ayes},
  year = {2013}
}
@inproceedings{vandenoord2016pixelrnn,
  author = {van den Oord, A{\"a}ron},
  title = {Pixel Recurrent Neural "Networks"},
  year = {2016}
}
"""


@pytest.fixture
def book(tmp_path):
    """A small book: a page with one exercise first, then a concept notebook and a lab."""
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/aigc-course/aigc-course\n  branch: main\n"
        "bibtex_bibfiles:\n  - book/references.bib\n"
    )
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: notebooks/01_toy/toy_concepts\n    sections:\n"
        "      - file: notebooks/01_toy/b_pytorch\n  - file: book/references\n"
    )
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text(
        "# Intro\n\n```{exercise}\n:label: intro-ex\nA warm-up.\n```\n"
    )
    (tmp_path / "book" / "references.md").write_text(
        "# References\n\n```{bibliography}\n:all:\n```\n"
    )
    (tmp_path / "book" / "references.bib").write_text(BIB)
    chapter = tmp_path / "notebooks" / "01_toy"
    chapter.mkdir(parents=True)
    (chapter / "toy_concepts.py").write_text(CONCEPTS)
    (chapter / "b_pytorch.py").write_text(LAB)
    return tmp_path


def _export(root, name="toy_concepts", audience="student"):
    return ex.export(
        root / "notebooks" / "01_toy" / f"{name}.py", ex.Book.load(root), audience
    )


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _converter(root, doc="notebooks/01_toy/toy_concepts", audience="student"):
    return ex.Converter(ex.Book.load(root), doc, audience)


def test_doc_and_ref_become_links_to_the_website(book):
    c = _converter(book)
    page = f"{SITE}notebooks/01_toy/"
    assert c.inline("{doc}`b_pytorch`") == f"[Toy lab (PyTorch)]({page}b_pytorch.html)"
    assert (
        c.inline("{doc}`refs <../../book/references>`")
        == f"[refs]({SITE}book/references.html)"
    )
    # a section label: the heading's text; an exercise: its number through the book
    # (the page before the notebook has exercise 1)
    assert (
        c.inline("{ref}`toy-minimax`")
        == f"[1. The minimax game]({page}toy_concepts.html#toy-minimax)"
    )
    assert (
        c.inline("{ref}`toy-ex-k`") == f"[Exercise 3]({page}toy_concepts.html#toy-ex-k)"
    )
    assert (
        c.inline("{ref}`here <toy-minimax>`")
        == f"[here]({page}toy_concepts.html#toy-minimax)"
    )
    with pytest.raises(ex.ExportError, match="no such page"):
        c.inline("{doc}`nowhere`")
    with pytest.raises(ex.ExportError, match="defined nowhere"):
        c.inline("{ref}`no-such-label`")


def test_a_citation_becomes_author_and_year_linked_to_the_references_page(book):
    c = _converter(book)
    refs = f"{SITE}book/references.html"
    assert (
        c.inline("{cite}`goodfellow2014gan`")
        == f'([Goodfellow et al., 2014]({refs} "Generative Adversarial Nets"))'
    )
    two = c.inline("{cite}`kingma2013vae,vandenoord2016pixelrnn`")
    assert two == (
        f'([Kingma and Welling, 2013]({refs} "Auto-Encoding Variational Bayes"); '
        f"[van den Oord, 2016]({refs} \"Pixel Recurrent Neural 'Networks'\"))"
    )
    assert c.inline("{cite:t}`kingma2013vae`").startswith(
        "[Kingma and Welling (2013)]("
    )
    with pytest.raises(ex.ExportError, match="no such entry"):
        c.inline("{cite}`nobody2099`")


def test_other_roles_and_code_spans(book):
    c = _converter(book)
    assert (
        c.inline("{math}`x^2` and {mod}`aigc_course.gmm`")
        == "$x^2$ and `aigc_course.gmm`"
    )
    # code is code
    assert c.inline("`{doc}` and ``{cite}`x` ``") == "`{doc}` and ``{cite}`x` ``"
    with pytest.raises(ex.ExportError, match="role {foo}"):
        c.inline("{foo}`bar`")
    with pytest.raises(ex.ExportError, match="directive {tab-set}"):
        c.cell(":::{tab-set}\nx\n:::")


def test_blocks_admonitions_targets_and_diagrams(book):
    md = _markdown(_export(book))
    assert "(toy-minimax)=" not in md and "## 1. The minimax game" in md
    assert "> **Fast mode**\n>\n> It trains for seconds; [Exercise 2](" in md
    assert "> **Note**\n>\n> Short." in md
    assert "```mermaid\nflowchart LR\n    A --> B\n```" in md
    assert "The value $V(D, G)$ of `aigc_course.toy_gan`, and $$x^2$$." in md
    assert "Code stays\ncode: `{doc}` and ``{cite}`x` ``." in md
    assert ex.raw_myst(md) == []
    assert ex.raw_myst("(a)=\n{doc}`x` `{ref}`\n:::{note}\n```{tip}\n") == [
        ("a role such as {cite}`...`", "{doc}`"),
        ("a (label)= target", "(a)="),
        ("a ::: directive", ":::{"),
        ("a ``` directive", "```{"),
    ]


def test_student_has_no_solution_and_instructor_has_each_after_its_exercise(book):
    student, instructor = _export(book), _export(book, audience="instructor")
    s_md = [c.source for c in student.cells if c.cell_type == "markdown"]
    i_md = [c.source for c in instructor.cells if c.cell_type == "markdown"]
    assert "SECRET" not in "\n".join(s_md) and "Solution" not in "\n".join(s_md)
    assert s_md[-2:] == [
        "**Exercise 2**\n\nDerive the optimal discriminator.",
        f"**Exercise 3**\n\nVary $k$ (see [the game]({SITE}notebooks/01_toy/toy_concepts.html#toy-minimax)).",
    ]
    k = i_md.index("**Exercise 2**\n\nDerive the optimal discriminator.")
    assert (
        i_md[k + 1] == "**Solution to Exercise 2**\n\nSECRET-ONE: $D^* = p / (p + q)$."
    )
    assert i_md[k + 2].startswith("**Exercise 3**")
    assert i_md[k + 3] == "**Solution to Exercise 3**\n\nSECRET-TWO."
    assert "student version" in s_md[1] and "instructor version" in i_md[1]


def test_code_cells_metadata_and_install_cell_are_the_source_notebooks(book):
    src = ex.check_notebooks.from_py(book / "notebooks" / "01_toy" / "toy_concepts.py")
    for audience in ex.AUDIENCES:
        nb = _export(book, audience=audience)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert [(c.source, c.metadata.get("tags")) for c in code] == [
            (c.source, c.metadata.get("tags"))
            for c in src.cells
            if c.cell_type == "code"
        ]
        assert code[0].source.splitlines()[-1].lstrip().startswith("%pip install")
        assert code[1].metadata["tags"] == ["hide-input"] and "{cite}" in code[1].source
        assert all(c.outputs == [] and c.execution_count is None for c in code)
        for key, value in ex.check_notebooks.GPU_METADATA.items():
            assert nb.metadata[key] == value
        assert (
            nb.metadata["kernelspec"]["name"] == "python3"
            and "jupytext" not in nb.metadata
        )
        assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_export_is_deterministic_and_check_passes_after_write(book):
    written = ex.write(book)
    assert sorted(p.relative_to(book).as_posix() for p in written) == [
        f"colab/{a}/01_toy/{n}.ipynb"
        for a in ("instructor", "student")
        for n in ("b_pytorch", "toy_concepts")
    ]
    before = {p: p.read_bytes() for p in written}
    assert ex.write(book) == []  # nothing to rewrite
    for path in before:
        path.unlink()
    ex.write(book)
    # byte-identical when regenerated
    assert {p: p.read_bytes() for p in before} == before
    assert ex.problems(book) == []
    lab = nbformat.read(
        book / "colab" / "student" / "01_toy" / "b_pytorch.ipynb", as_version=4
    )
    assert (
        f"[Exercise 3]({SITE}notebooks/01_toy/toy_concepts.html#toy-ex-k)"
        in _markdown(lab)
    )


def test_check_names_missing_stale_and_left_over_notebooks(book):
    ex.write(book)
    student = book / "colab" / "student" / "01_toy" / "toy_concepts.ipynb"
    student.unlink()
    assert ex.problems(book) == [
        f"colab/student/01_toy/toy_concepts.ipynb: missing; {ex.HOW_TO_FIX}"
    ]
    ex.write(book)
    src = book / "notebooks" / "01_toy" / "b_pytorch.py"
    src.write_text(src.read_text().replace('print("lab")', 'print("changed")'))
    stale = ex.problems(book)
    assert len(stale) == 2 and all(
        "out of date" in p and "b_pytorch.ipynb" in p for p in stale
    )
    ex.write(book)
    orphan = book / "colab" / "instructor" / "01_toy" / "gone.ipynb"
    orphan.write_text(student.read_text())
    assert ex.problems(book) == [
        f"colab/instructor/01_toy/gone.ipynb: no source notebook; {ex.HOW_TO_FIX} to delete it"
    ]
    ex.write(book)
    assert not orphan.exists() and ex.problems(book) == []


def test_check_finds_raw_myst_and_a_solution_in_a_student_notebook(book):
    ex.write(book)
    student = book / "colab" / "student" / "01_toy" / "toy_concepts.ipynb"
    nb = nbformat.read(student, as_version=4)
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            "(a-label)=\nSee {cite}`goodfellow2014gan`.\n:::{note}\nraw\n:::"
        )
    )
    nb.cells.append(
        nbformat.v4.new_markdown_cell("**Solution to Exercise 2**\n\nSECRET-ONE")
    )
    nbformat.write(nb, student)
    found = ex.problems(book)
    rel = "colab/student/01_toy/toy_concepts.ipynb"
    assert f"{rel}: out of date with its source; {ex.HOW_TO_FIX}" in found
    raw = [p for p in found if "raw MyST" in p]
    assert (
        len(raw) == 3
        and any("{cite}`" in p for p in raw)
        and any("(a-label)=" in p for p in raw)
    )
    assert any("is a solution, in a student notebook" in p for p in found)
    # the text of a solution, without its heading, is found too
    nb.cells[-1].source = "Hint: SECRET-TWO."
    nbformat.write(nb, student)
    assert any("holds the text of a solution" in p for p in ex.problems(book))


def test_an_unknown_construct_is_an_error_not_raw_text(book):
    src = book / "notebooks" / "01_toy" / "b_pytorch.py"
    src.write_text(src.read_text().replace("# Back to", "# {glossary-term}`x` Back to"))
    assert ex.fix(book) == [
        "tools/export_notebooks.py: notebooks/01_toy/b_pytorch.py, cell 1: "
        "the role {glossary-term} is not known to tools/export_notebooks.py"
    ]
    assert ex.problems(book) == [
        "tools/export_notebooks.py: notebooks/01_toy/b_pytorch.py, "
        "cell 1: the role {glossary-term} is not known to tools/export_notebooks.py"
    ]


def test_the_course_notebooks_under_colab_are_up_to_date_and_plain_markdown():
    sources = ex.notebook_sources(ROOT)
    assert ex.problems(ROOT) == []
    raw_before = sum(
        len(ex.raw_myst(c.source))
        for py in sources
        for c in ex.jupytext.read(py).cells
        if c.cell_type == "markdown"
    )
    # the sources are MyST; the check above found none in colab/
    assert raw_before > 100
    for py in sources:
        expected = py.read_text(encoding="utf-8").count(":::{solution}")
        for audience, path in ex.outputs(py, ROOT).items():
            nb = nbformat.read(path, as_version=4)
            assert nb.metadata["colab"] == ex.check_notebooks.GPU_METADATA["colab"], (
                path
            )
            solutions = [
                c for c in nb.cells if c.source.startswith(ex.SOLUTION_HEADING)
            ]
            assert len(solutions) == (expected if audience == "instructor" else 0), path


def test_the_websites_colab_button_opens_the_student_notebook(tmp_path):
    site = _load("course_site", ROOT / "book" / "_ext" / "course_site.py")
    (tmp_path / "colab" / "student" / "04_vaes").mkdir(parents=True)
    (tmp_path / "colab" / "student" / "04_vaes" / "vae_concepts.ipynb").write_text("{}")
    blob = "https://colab.research.google.com/github/o/r/blob/main/"

    def context(page):
        return {
            "header_buttons": [
                {
                    "label": "download-buttons",
                    "buttons": [{"text": ".ipynb", "url": f"_sources/{page}.ipynb"}],
                },
                {
                    "label": "launch-buttons",
                    "buttons": [
                        {
                            "text": "Binder",
                            "url": f"https://mybinder.org/v2/gh/o/r/main?urlpath=tree/{page}.ipynb",
                        },
                        {"text": "Colab", "url": f"{blob}{page}.ipynb"},
                    ],
                },
            ]
        }

    app = types.SimpleNamespace(srcdir=str(tmp_path))
    ctx = context("notebooks/04_vaes/vae_concepts")
    site.student_colab_link(
        app, "notebooks/04_vaes/vae_concepts", "page.html", ctx, None
    )
    launch = ctx["header_buttons"][1]["buttons"]
    assert launch[1]["url"] == f"{blob}colab/student/04_vaes/vae_concepts.ipynb"
    # only Colab's
    assert launch[0]["url"].endswith("tree/notebooks/04_vaes/vae_concepts.ipynb")
    assert (
        ctx["header_buttons"][0]["buttons"][0]["url"]
        == "_sources/notebooks/04_vaes/vae_concepts.ipynb"
    )
    # no student notebook: unchanged
    for page in ("notebooks/04_vaes/vae_keras", "book/setup"):
        ctx = context(page)
        site.student_colab_link(app, page, "page.html", ctx, None)
        assert ctx == context(page)
    json.dumps(ctx)  # still plain data for the template
