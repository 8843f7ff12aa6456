"""tools/lab_sources.py: one source per lab gives its PyTorch and Keras notebooks."""

import importlib.util
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "lab_sources", ROOT / "tools" / "lab_sources.py"
)
L = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(L)

HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""
SOURCE = (
    HEADER
    + """
# %% [markdown]
# # Lab: a toy in PyTorch  # [torch]
# # Lab: a toy in Keras  # [keras]
#
# Shared prose.

# %%
print("install")

# %% tags=["torch"]
import torch

# %% tags=["keras", "hide-input"]
import keras

# %%
x = 1  # [torch]
x = 2  # [keras]
y = x + 1
print(x, y)
"""
)


def write_lab(tmp_path: Path, text: str = SOURCE) -> Path:
    chapter = tmp_path / "notebooks" / "01_toy"
    chapter.mkdir(parents=True)
    source = chapter / "toy_lab.py"
    source.write_text(text, encoding="utf-8")
    return source


def test_each_framework_gets_its_cells_and_lines_and_the_shared_ones(tmp_path):
    source = write_lab(tmp_path)
    torch_nb = jupytext.reads(L.generate(source, "torch"), fmt="py:percent")
    keras_nb = jupytext.reads(L.generate(source, "keras"), fmt="py:percent")
    assert [c.source for c in torch_nb.cells] == [
        "# Lab: a toy in PyTorch\n\nShared prose.",
        'print("install")',
        "import torch",
        "x = 1\ny = x + 1\nprint(x, y)",
    ]
    assert [c.source for c in keras_nb.cells] == [
        "# Lab: a toy in Keras\n\nShared prose.",
        'print("install")',
        "import keras",
        "x = 2\ny = x + 1\nprint(x, y)",
    ]
    # the framework tags go, other tags stay
    assert keras_nb.cells[2].metadata["tags"] == ["hide-input"]
    assert "tags" not in torch_nb.cells[2].metadata
    # the generated file says where to edit it
    assert keras_nb.metadata["aigc_course"]["generated_from"] == "toy_lab.py"
    with pytest.raises(ValueError, match="framework"):
        L.select(jupytext.read(source), "jax", "toy_lab.py")


def test_a_generated_file_edited_by_hand_or_missing_is_reported_and_fixed(tmp_path):
    source = write_lab(tmp_path)
    torch_py, keras_py = L.targets(source).values()
    assert torch_py.name == "toy_pytorch.py" and keras_py.name == "toy_keras.py"
    assert sorted(p.name for p in L.fix(tmp_path)) == ["toy_keras.py", "toy_pytorch.py"]
    assert L.problems(tmp_path) == [] and L.fix(tmp_path) == []
    keras_py.write_text(keras_py.read_text() + "\n# %%\nprint('edited by hand')\n")
    torch_py.unlink()
    found = L.problems(tmp_path)
    assert len(found) == 2
    assert "toy_pytorch.py: missing" in found[0]
    assert "toy_keras.py: differs from what toy_lab.py gives" in found[1]
    L.fix(tmp_path)
    assert L.problems(tmp_path) == []


def test_merge_gives_back_both_notebooks_exactly(tmp_path):
    source = write_lab(tmp_path)
    L.fix(tmp_path)
    torch_py, keras_py = L.targets(source).values()
    merged = L.merge(torch_py, keras_py)
    # a cell with one differing line is shared with tagged lines; different cells are tagged
    assert any("x = 1  # [torch]" in c.source for c in merged.cells)
    assert sum("torch" in c.metadata.get("tags", []) for c in merged.cells) == 1
    again = tmp_path / "notebooks" / "01_toy" / "again_lab.py"
    again.write_text(jupytext.writes(merged, fmt="py:percent"))
    for framework, original in (("torch", torch_py), ("keras", keras_py)):
        assert L.generate(again, framework) == original.read_text().replace(
            "toy_lab.py", "again_lab.py"
        )


def test_the_install_cell_is_written_into_the_lab_source_with_tagged_lines(tmp_path):
    source = write_lab(tmp_path)

    def install(stem):
        return f'# %pip install "pkg[{"torch" if stem.name.endswith("_pytorch") else "keras"}]"'

    assert L.set_install_cell(source, install) is True
    assert L.set_install_cell(source, install) is False  # already right
    torch_nb = jupytext.reads(L.generate(source, "torch"), fmt="py:percent")
    assert torch_nb.cells[1].source == '%pip install "pkg[torch]"'
    assert '# %pip install "pkg[keras]"  # [keras]' in source.read_text()


def test_every_lab_of_the_course_has_one_source_and_its_notebooks_are_up_to_date():
    labs = sorted(
        p.name[: -len("_pytorch.py")]
        for p in (ROOT / "notebooks").glob("*/*_pytorch.py")
    )
    sources = sorted(p.name[: -len("_lab.py")] for p in L.lab_sources(ROOT))
    assert labs == sources and len(labs) >= 10
    assert L.problems(ROOT) == []
