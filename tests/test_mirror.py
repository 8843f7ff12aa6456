"""The two framework halves hold the same modules: aigc_course/torch/X.py exists if and only if
aigc_course/keras/X.py does (one name per idea; tests/test_parity.py checks what is inside).

Only lists files: no framework is imported, so it runs in the plain (not `keras`) test run.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aigc_course"


def modules(half: str) -> list[str]:
    return sorted(p.name for p in (PACKAGE / half).glob("*.py"))


def test_torch_and_keras_halves_hold_the_same_module_files():
    torch_files, keras_files = modules("torch"), modules("keras")
    assert "gan.py" in torch_files and "__init__.py" in torch_files  # the right folders
    only_torch = sorted(set(torch_files) - set(keras_files))
    only_keras = sorted(set(keras_files) - set(torch_files))
    assert not only_torch and not only_keras, (
        f"aigc_course/torch/ only: {only_torch}; aigc_course/keras/ only: {only_keras}"
    )


def test_the_halves_hold_no_subpackages_or_other_source_files():
    for half in ("torch", "keras"):
        extra = sorted(
            p.name
            for p in (PACKAGE / half).iterdir()
            if p.name != "__pycache__" and not p.name.endswith(".py")
        )
        assert not extra, (
            f"aigc_course/{half}/ holds {extra}: mirror them or move them out"
        )
