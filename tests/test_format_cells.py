"""tools/format_cells.py: the notebook sources' code cells are formatted, cell by cell."""

import importlib.util
import shutil
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "format_cells", ROOT / "tools" / "format_cells.py"
)
F = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(F)
L = F.lab_sources

needs_ruff = pytest.mark.skipif(
    shutil.which("ruff") is None
    and not Path(F.sys.executable).with_name("ruff").exists(),
    reason="ruff is not installed (pip install -e '.[dev]')",
)

LONG_COMMENT = "# " + "a comment long enough to push the line past the limit " * 2


def test_a_long_trailing_comment_moves_above_its_statement():
    code = f"total = compute(a, b)  {LONG_COMMENT}"
    assert F.hoist_comments(code) == f"{LONG_COMMENT}\ntotal = compute(a, b)"


def test_a_comment_after_else_or_except_opens_the_block():
    code = f"try:\n    x = 1\nexcept ValueError:  {LONG_COMMENT}\n    pass"
    assert F.hoist_comments(code) == (
        f"try:\n    x = 1\nexcept ValueError:\n    {LONG_COMMENT}\n    pass"
    )


@pytest.mark.parametrize(
    "code",
    [
        "x = 1  # short",  # fits: stays
        "y = " + "f(x) + " * 11 + "1  # [torch]",  # a lab source's framework tag
        f'url = "#{"x" * 90}"',  # a '#' inside a string is no comment
        f"x = 1  # noqa: E501 {LONG_COMMENT}",  # directives stay on their line
        f"v = {'w' * 90}  # the code alone is already too long",
    ],
)
def test_lines_that_stay_as_they_are(code):
    assert F.hoist_comments(code) == code


def _nb(cells: str):
    return jupytext.reads(
        "# %%\nimport os\n" + cells,
        fmt="py:percent",
    )


@needs_ruff
def test_cells_are_formatted_and_a_trailing_semicolon_kept():
    nb = _nb(
        "\n# %%\nplt.plot([1,2,3], [4,5,6], label='a label long enough to wrap this "
        "call over more lines');\n"
    )
    assert F.format_notebook(nb, lab=False)
    src = nb.cells[1].source
    assert src.endswith(");") and "plt.plot(\n" in src
    assert "'" not in src  # quotes normalised
    assert not F.format_notebook(nb, lab=False)  # formatted code stays as it is


@needs_ruff
def test_a_shared_lab_cell_is_formatted_per_framework_and_merged_again():
    torch_line = (
        "course = pretrained.load('gpt', 'shakespeare', device=device, "
        "verbose=True, extra=1)  # [torch]"
    )
    keras_line = (
        "course = pretrained.load('gpt', 'shakespeare', framework='keras', "
        "verbose=True, extra=1)  # [keras]"
    )
    nb = _nb(f"\n# %%\nx = 1\n{torch_line}\n{keras_line}\nprint(course)\n")
    assert F.format_notebook(nb, lab=True)
    cell = nb.cells[1]
    assert "tags" not in cell.metadata  # still one shared cell
    for fw, other in (("torch", "framework="), ("keras", "device=")):
        code = L._select_lines(cell.source, fw)
        assert other not in code
        assert all(len(line) <= 88 for line in code.split("\n"))
        assert F.ruff_format([code])[0].rstrip("\n") == code  # each side is formatted
        compile(code, fw, "exec")


@needs_ruff
def test_a_lab_cell_whose_versions_differ_too_much_becomes_two_cells():
    nb = _nb(
        "\n# %%\n"
        "print(g)  # [torch]\n"
        "print(sum(p.numel() for p in g.parameters()), 'parameters', 'in the generator', "
        "'and more text')  # [torch]\n"
        "g.summary()  # [keras]\n"
    )
    assert F.format_notebook(nb, lab=True)
    tags = [c.metadata.get("tags") for c in nb.cells[1:]]
    assert tags == [["torch"], ["keras"]]
    assert nb.cells[2].source == "g.summary()"


@needs_ruff
def test_the_course_sources_are_formatted():
    assert [p.relative_to(ROOT).as_posix() for p in F.run(ROOT, fix=False)] == []
