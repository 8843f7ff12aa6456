"""``show_source``: the code a page shows from the package, cut at marker lines.

A reformat of the package once moved a marker line, so a notebook's ``show_source``
call stopped at ``StopIteration`` in CI. The markers every notebook asks for are
checked here, in seconds, instead of by executing the notebooks.
"""

import ast
from pathlib import Path

import pytest

pytest.importorskip("IPython")

from aigc_course.config import show_source

ROOT = Path(__file__).resolve().parent.parent


def _example(x):
    y = x + 1
    # --- middle (shown in the book)
    z = y * 2
    # --- end middle
    return z


def test_cuts_between_markers_and_dedents():
    code = show_source(_example, start="# --- middle", end="# --- end middle")
    assert code.data.strip() == "z = y * 2"


def test_missing_marker_is_a_clear_value_error():
    with pytest.raises(ValueError, match=r"'# --- nowhere'.*_example"):
        show_source(_example, start="# --- nowhere")
    with pytest.raises(ValueError, match="nowhere either"):
        show_source(_example, start="# --- middle", end="nowhere either")


def _marker_calls():
    for py in sorted((ROOT / "notebooks").rglob("*.py")):
        tree = ast.parse(py.read_text(encoding="utf-8"), filename=str(py))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "show_source"
            ):
                for kw in node.keywords:
                    if kw.arg in ("start", "end"):
                        assert isinstance(kw.value, ast.Constant), (
                            f"{py.relative_to(ROOT)}:{node.lineno}: show_source "
                            f"{kw.arg}= must be a string literal"
                        )
                        yield py.relative_to(ROOT), node.lineno, kw.value.value


def test_every_marker_a_notebook_asks_for_is_in_the_package():
    package = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "aigc_course").rglob("*.py")
    )
    calls = list(_marker_calls())
    assert len(calls) > 30  # the labs cut ~37 excerpts this way
    missing = [
        f"{py}:{line}: {marker!r}"
        for py, line, marker in calls
        if marker not in package
    ]
    assert not missing, "markers not found in aigc_course/: " + "; ".join(missing)
