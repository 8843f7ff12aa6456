"""What a student meets first: the install cell, the GPU metadata, the tables of labs.

The install cell is run for real, in IPython, in a subprocess whose ``pip`` is a stub
that records its arguments (no network): once where ``aigc_course`` cannot be imported
(it must install, with the notebook's extras, from the pinned ref) and once where it can
(it must do nothing).
"""

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "check_notebooks", ROOT / "tools" / "check_notebooks.py"
)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

REPO = tool.repository()
URL, REF = REPO["url"], REPO["install_ref"]
NOTEBOOKS = [s for s in tool.stems() if s.with_suffix(".ipynb").exists()]
RUN_CELL = """
import sys
from IPython.core.interactiveshell import InteractiveShell
result = InteractiveShell.instance().run_cell(open(sys.argv[1], encoding="utf-8").read())
sys.exit(0 if result.success else 1)
"""


def _first_code_cell(stem: Path) -> str:
    nb = nbformat.read(stem.with_suffix(".ipynb"), as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def _run_install_cell(
    stem: Path, tmp_path: Path, hide_package: bool
) -> list[list[str]]:
    """Run the notebook's install cell in IPython; the pip invocations it made."""
    stub = tmp_path / "stub"
    (stub / "pip").mkdir(parents=True)
    (stub / "pip" / "__init__.py").write_text("")
    (stub / "pip" / "__main__.py").write_text(
        "import json, os, sys\n"
        "with open(os.environ['PIP_STUB_LOG'], 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    if hide_package:  # found before the installed package, and unimportable
        (stub / "aigc_course").mkdir()
        (stub / "aigc_course" / "__init__.py").write_text(
            "raise ImportError('aigc_course is not installed here (test stub)')\n"
        )
    cell, log = tmp_path / "cell.py", tmp_path / "pip.log"
    cell.write_text(_first_code_cell(stem), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(stub), "PIP_STUB_LOG": str(log)}
    done = subprocess.run(
        [sys.executable, "-c", RUN_CELL, str(cell)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return (
        [json.loads(line) for line in log.read_text().splitlines()]
        if log.exists()
        else []
    )


@pytest.mark.parametrize(
    "name, extras",
    [
        ("notebooks/03_gans/gan_concepts", ""),
        ("notebooks/03_gans/gan_pytorch", "[torch]"),
        ("notebooks/03_gans/gan_keras", "[keras]"),
        ("notebooks/10_security/security_pytorch", "[torch,privacy]"),
    ],
)
def test_install_cell_installs_the_pinned_release_where_the_package_is_missing(
    tmp_path, name, extras
):
    calls = _run_install_cell(ROOT / name, tmp_path, hide_package=True)
    assert calls == [["install", "-q", f"aigc-course{extras} @ git+{URL}@{REF}"]]


def test_install_cell_does_nothing_where_the_package_is_installed(tmp_path):
    assert (
        _run_install_cell(
            ROOT / "notebooks/03_gans/gan_pytorch", tmp_path, hide_package=False
        )
        == []
    )


def test_every_notebook_has_the_install_cell_gpu_metadata_and_valid_python_source():
    assert len(NOTEBOOKS) >= 30
    for stem in NOTEBOOKS:
        nb = nbformat.read(stem.with_suffix(".ipynb"), as_version=4)
        assert (
            nb.metadata["accelerator"] == "GPU"
            and nb.metadata["colab"]["gpuType"] == "T4"
        ), stem
        assert nb.metadata["kaggle"]["isGpuEnabled"] is True, stem
        cell = _first_code_cell(stem)
        assert cell.startswith("# Install the course package") and f'@{REF}"' in cell, (
            stem
        )
        assert "google.colab" not in cell and "--upgrade" not in cell
        # no bare magics
        ast.parse(stem.with_suffix(".py").read_text(encoding="utf-8"), str(stem))


def test_the_ref_is_pinned_to_this_version():
    version = tool.project_version()
    assert REF == f"v{version}" and tool.ref_problems(REF, "main", version) == []
    assert tool.ref_problems("main", "main", version)  # a branch moves
    assert tool.ref_problems("v0.0.9", "main", "0.1.0")  # another release
    assert tool.ref_problems(None, "main", version)
    assert (
        tool.ref_problems("0123456789abcdef0123456789abcdef01234567", "main", version)
        == []
    )


def test_extras_follow_what_the_notebook_imports():
    assert tool.extras(ROOT / "notebooks/04_vaes/vae_concepts") == []
    assert tool.extras(ROOT / "notebooks/04_vaes/vae_keras") == ["keras"]
    assert tool.extras(ROOT / "notebooks/10_security/security_pytorch") == [
        "torch",
        "privacy",
    ]
    assert tool.extras(ROOT / "notebooks/10_security/security_keras") == ["keras"]


def test_a_lab_must_check_for_a_gpu_before_choosing_its_mode():
    rel = Path("lab.ipynb")
    ok = [
        "from aigc_course import check_gpu, pick\ncheck_gpu()\nEPOCHS = pick(full=3, fast=1)"
    ]
    assert tool.lab_problems(rel, ok) == []
    late = [
        "from aigc_course import check_gpu, pick\nEPOCHS = pick(full=3, fast=1)\ncheck_gpu()"
    ]
    assert "check_gpu()" in tool.lab_problems(rel, late)[0]
    assert tool.lab_problems(rel, ["x = 1"])  # never called
    fixed = ok + ['checkpoint_dir = pick(full="checkpoints/gan", fast="/tmp/x")']
    assert any("run_dir" in p for p in tool.lab_problems(rel, fixed))


def test_readme_and_preface_list_every_lab_with_launch_links():
    assert tool.table_problems(REPO) == []
    labs = [s for s in NOTEBOOKS if tool.is_lab(s)]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    preface = (ROOT / "book" / "preface.md").read_text(encoding="utf-8")
    # the launch links open the notebooks of tools/export_notebooks.py
    for stem in labs:
        rel = stem.relative_to(ROOT / "notebooks").as_posix()
        for text in (readme, preface):
            assert (
                f"colab.research.google.com/github/aigc-course/aigc-course/blob/main/colab/student/{rel}.ipynb"
                in text
            )
            assert (
                f"kaggle.com/kernels/welcome?src={URL}/blob/main/colab/student/{rel}.ipynb"
                in text
            )
            assert (
                f"colab.research.google.com/github/aigc-course/aigc-course/blob/main/colab/instructor/{rel}.ipynb"
                in text
            )
        assert f"blob/main/notebooks/{rel}.ipynb" not in readme + preface
    assert "https://aigc-course.github.io/aigc-course/" in readme
    # the site requests nothing from other hosts
    assert "<img" not in preface and "![" not in preface
    with pytest.raises(ValueError, match="expected https://github.com/OWNER/NAME"):
        tool.site_url("https://gitlab.com/a/b")


def test_fix_writes_the_install_cell_without_losing_a_first_code_cell(tmp_path):
    header = "# %% [markdown]\n# # A new lab\n\n"
    empty = tmp_path / "new_pytorch.py"
    empty.write_text(header + "# %%\n\n# %%\nimport torch\n")
    assert tool.fix_install_cell(empty, URL, REF)
    cells = [c for c in empty.read_text().split("# %%") if c.strip()]
    assert (
        "aigc-course[torch] @ git+" in cells[1] and cells[2].strip() == "import torch"
    )
    assert not tool.fix_install_cell(empty, URL, REF)  # already right: unchanged

    real = tmp_path / "other_keras.py"
    real.write_text(header + "# %%\nimport keras\n")
    assert tool.fix_install_cell(real, URL, REF)
    text = real.read_text()
    assert text.index("aigc-course[keras] @ git+") < text.index("import keras")
    ast.parse(text)
