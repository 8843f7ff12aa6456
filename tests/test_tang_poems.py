"""The 300 Tang poems load on any machine: from the copy shipped in the package when
Debian's fortunes-zh is absent (the system copy hidden), verified by its checksum."""

import hashlib
import re

import pytest

from aigc_course import data

SHIPPED = data.PACKAGE_DATA_DIR / "tang300.txt"


@pytest.fixture
def no_system_copy(tmp_path, monkeypatch):
    """An empty data folder, downloads off, and no Debian copy where the loader looks."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("AIGC_COURSE_DATA", str(folder))
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "FORTUNES_SYSTEM_DIR", tmp_path / "no-fortunes-zh")
    data.clear_cache()
    yield tmp_path
    data.clear_cache()


def test_shipped_copy_is_the_recorded_file():
    content = SHIPPED.read_bytes()
    assert hashlib.sha256(content).hexdigest() == data.TANG300_SHA
    readme = (data.PACKAGE_DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert data.TANG300_SHA in readme and f"{len(content):,} bytes" in readme
    assert "fortunes-zh" in readme and "2.98" in readme and "public domain" in readme


def test_poems_load_from_the_package_without_the_debian_copy(no_system_copy):
    assert not (data.FORTUNES_SYSTEM_DIR / "tang300").exists()
    poems = data.load_tang_poems()
    # the shipped copy, not the system one
    assert data.last_source("tang300") == str(SHIPPED)
    assert len(poems) == 313
    assert poems[0] == {
        "title": "感遇・其一",
        "author": "张九龄",
        "text": "兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。\n"
        "谁知林栖者，闻风坐相悦。\n草木有本心，何求美人折？",
    }
    assert sum(p["author"] == "杜甫" for p in poems) == 39
    assert not any("\x1b" in v for p in poems for v in p.values())


def test_debian_copy_comes_first_where_installed(no_system_copy, monkeypatch):
    system = no_system_copy / "fortunes"
    system.mkdir()
    (system / "tang300").write_bytes(SHIPPED.read_bytes())
    monkeypatch.setattr(data, "FORTUNES_SYSTEM_DIR", system)
    assert len(data.load_tang_poems()) == 313
    assert data.last_source("tang300") == str(system / "tang300")


def test_a_corrupt_shipped_copy_is_refused(no_system_copy, monkeypatch):
    broken = no_system_copy / "data_files"
    broken.mkdir()
    (broken / "tang300.txt").write_bytes(
        SHIPPED.read_bytes().replace("李白".encode(), "李黑".encode(), 1)
    )
    monkeypatch.setattr(data, "PACKAGE_DATA_DIR", broken)
    with pytest.raises(data.DataIntegrityError, match=re.escape(data.TANG300_SHA)):
        data.load_tang_poems()


def test_the_shipped_file_is_package_data():
    """pyproject.toml ships data_files/ in the wheel (editable installs read it in place)."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = tomllib.loads(
        (Path(data.__file__).parents[1] / "pyproject.toml").read_text()
    )
    patterns = pyproject["tool"]["setuptools"]["package-data"]["aigc_course"]
    assert any(Path("data_files/tang300.txt").match(p) for p in patterns)
