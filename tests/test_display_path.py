"""Printed paths never show the absolute paths of the machine that ran the notebook."""

from pathlib import Path

from aigc_course.config import display_path


def test_data_folder_shown_by_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_DATA", str(tmp_path / "data"))
    assert display_path(tmp_path / "data" / "mnist") == "$AIGC_COURSE_DATA/mnist"
    assert display_path(tmp_path / "data") == "$AIGC_COURSE_DATA"


def test_cache_folder_shown_by_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("AIGC_COURSE_CACHE", str(tmp_path / "cache"))
    shown = display_path(tmp_path / "cache" / "evaluators" / "mnist.npz")
    assert shown == "$AIGC_COURSE_CACHE/evaluators/mnist.npz"


def test_default_folders_and_home(tmp_path, monkeypatch):
    monkeypatch.delenv("AIGC_COURSE_DATA", raising=False)
    monkeypatch.delenv("AIGC_COURSE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (
        display_path(tmp_path / ".cache" / "aigc_course" / "mnist")
        == "~/.cache/aigc_course/mnist"
    )
    assert display_path(tmp_path / "notes" / "a.txt") == "~/notes/a.txt"


def test_other_absolute_paths_lose_their_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    shown = display_path(Path("/usr/share/games/fortunes/tang300"))
    assert shown == "…/fortunes/tang300" and "/usr/share" not in shown


def test_relative_paths_unchanged():
    assert display_path("runs/gan") == "runs/gan"
