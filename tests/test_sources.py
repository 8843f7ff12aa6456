"""The source map (book/sources.yml) against the five source articles.

Every heading of every article, every numbered question and exercise of article 003, and
every bold list item under a heading marked ``items: scenario`` or ``items: knob`` must
be listed; every course target must exist; book/source_map.md must be up to date.
The articles live beside the repository in ``../shared/seeds/`` (or ``$AIGC_COURSE_SEEDS``);
in a clone without them the tests that read them are skipped.
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "source_map", ROOT / "tools" / "source_map.py"
)
source_map = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(source_map)

SEEDS = source_map.seeds_dir()
needs_seeds = pytest.mark.skipif(
    SEEDS is None,
    reason="the source articles (../shared/seeds/ beside the repository, or "
    "$AIGC_COURSE_SEEDS) are not in this checkout",
)


@pytest.fixture(scope="module")
def data():
    return source_map.load_sources()


def article_text(article):
    return (SEEDS / article["file"]).read_text(encoding="utf-8")


def test_five_articles(data):
    assert [a["id"] for a in data["articles"]] == list(source_map.ARTICLE_IDS)
    for article in data["articles"]:
        assert article["file"].startswith(article["id"] + "_")
        assert article["title"] and article["summary"] and article["entries"]


def test_entries_are_well_formed_and_targets_exist(data):
    assert source_map.sources_problems(data) == []


@needs_seeds
@pytest.mark.parametrize("article_id", source_map.ARTICLE_IDS)
def test_every_heading_is_listed(data, article_id):
    article = next(a for a in data["articles"] if a["id"] == article_id)
    listed = {(e.get("parent"), e["heading"]) for e in article["entries"]}
    headings = source_map.article_headings(article_text(article))
    assert len(headings) >= 7
    missing = [
        h["text"] for h in headings if (h.get("parent"), h["text"]) not in listed
    ]
    assert not missing, (
        f"article {article_id}: headings missing from book/sources.yml: {missing}"
    )


@needs_seeds
@pytest.mark.parametrize("article_id", source_map.ARTICLE_IDS)
def test_every_listed_item_is_in_the_article(data, article_id):
    """Nothing is invented: each heading and list item of the map occurs in its article."""
    article = next(a for a in data["articles"] if a["id"] == article_id)
    text = article_text(article)
    headings = {h["text"] for h in source_map.article_headings(text)}
    for entry in article["entries"]:
        if entry.get("kind", "heading") == "heading" and not entry.get("parent"):
            assert entry["heading"] in headings, (
                f"{article_id}: {entry['heading']!r} is not a heading"
            )
        else:
            assert entry["heading"] in text, (
                f"{article_id}: {entry['heading']!r} is not in the article"
            )
        if entry.get("parent"):
            assert entry["parent"] in headings, (
                f"{article_id}: parent {entry['parent']!r} is not a heading"
            )


@needs_seeds
@pytest.mark.parametrize("article_id", source_map.ARTICLE_IDS)
def test_every_scenario_and_knob_is_listed(data, article_id):
    article = next(a for a in data["articles"] if a["id"] == article_id)
    text = article_text(article)
    for entry in article["entries"]:
        if "items" not in entry:
            continue
        assert entry["items"] in ("scenario", "knob")
        found = source_map.section_items(text, entry["heading"])
        assert found, (
            f"{article_id}: {entry['heading']!r} is marked items: {entry['items']} but has none"
        )
        listed = {
            e["heading"]
            for e in article["entries"]
            if e.get("parent") == entry["heading"] and e.get("kind") == entry["items"]
        }
        missing = [item for item in found if item not in listed]
        assert not missing, (
            f"{article_id}, {entry['heading']}: {entry['items']}s missing: {missing}"
        )


def test_heading_extraction_skips_code_and_finds_questions():
    text = "\n".join(
        [
            "## 1. 背景",
            "```python",
            "# a comment, not a heading",
            "```",
            "#### 三、面试题库",
            "1. **GAN是什么？**",
            "2. **VAE是什么？**",
            "#### 四、编程题库",
            "1. **实现一个GAN。**",
            "### 4.1 小节",
            "1. **not under a Chinese-numbered heading**",
        ]
    )
    found = [(h["text"], h.get("parent")) for h in source_map.article_headings(text)]
    assert found == [
        ("1. 背景", None),
        ("三、面试题库", None),
        ("GAN是什么？", "三、面试题库"),
        ("VAE是什么？", "三、面试题库"),
        ("四、编程题库", None),
        ("实现一个GAN。", "四、编程题库"),
        ("4.1 小节", None),
    ]
    assert source_map.section_items(
        "### A\n1. **x**：y\n- **z**\n### B\n1. **w**", "A"
    ) == ["x", "z"]


def test_source_map_page_is_up_to_date(data):
    page = ROOT / "book" / "source_map.md"
    assert (
        page.read_text(encoding="utf-8") == source_map.render_source_map(data) + "\n"
    ), "book/source_map.md is stale: run `python tools/source_map.py --fix`"


def test_source_map_page_is_in_the_toc():
    assert "book/source_map" in source_map.toc_files()


def test_every_course_page_is_cited_as_a_doc_link(data):
    page = source_map.render_source_map(data)
    for doc in re.findall(r"\{doc\}`[^<`]+<([^>]+)>`", page):
        target = doc[3:] if doc.startswith("../") else "book/" + doc
        assert target in source_map.toc_files(), doc
