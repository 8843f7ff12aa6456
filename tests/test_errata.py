"""The errata page (book/errata.md): quotes, structure, counts and links.

* Every quote of an original (the blockquotes and code blocks after **原文**, and every
  「…」 on the page) occurs verbatim in one of the five source articles, after removing
  whitespace and bold marks (``**``); quotes attributed to an entry's articles must be in
  one of those. Skipped when ``../shared/seeds/`` is not beside the repository.
* Every entry has a label, a category, an article and a link; every part-A entry quotes
  its original; every "Runs in" links with {ref} to a label that exists in a notebook.
* The generated tables (index and counts) match the entries.
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

ERRATA = ROOT / "book" / "errata.md"
SEEDS = source_map.seeds_dir()
needs_seeds = pytest.mark.skipif(
    SEEDS is None,
    reason="the source articles (../shared/seeds/ beside the repository, or "
    "$AIGC_COURSE_SEEDS) are not in this checkout",
)


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("**", ""))


@pytest.fixture(scope="module")
def text():
    return ERRATA.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def entries(text):
    return source_map.parse_errata(text)


@pytest.fixture(scope="module")
def articles():
    files = {p.name[:3]: p for p in SEEDS.glob("00[0-4]_*.txt")}
    assert sorted(files) == list(source_map.ARTICLE_IDS)
    return {k: normalise(p.read_text(encoding="utf-8")) for k, p in files.items()}


def original_quotes(body: str) -> list[str]:
    """The blockquotes and code blocks between '**原文' and '**What is wrong'."""
    start = body.find("**原文")
    end = body.find("**What is wrong")
    if start < 0 or end < start:
        return []
    block = body[start:end].split("\n", 1)[1]
    quotes = [m.group(1) for m in re.finditer(r"```[a-z]*\n(.*?)```", block, re.S)]
    block = re.sub(r"```[a-z]*\n.*?```", "", block, flags=re.S)
    quote = []
    for line in block.splitlines() + [""]:
        if line.startswith(">"):
            quote.append(line[1:].strip())
        elif quote:
            quotes.append(" ".join(quote))
            quote = []
    return quotes


def test_parse_finds_the_entries(entries):
    ids = [e["id"] for e in entries]
    assert len(ids) >= 60
    assert ids == sorted(ids, key=lambda i: (i[0], int(i[1:]))), "entries out of order"
    for part in "AB":
        numbers = [int(i[1:]) for i in ids if i[0] == part]
        assert numbers == list(range(1, len(numbers) + 1)), (
            f"part {part} is not numbered 1, 2, 3, ..."
        )


def test_entries_are_complete(entries):
    assert source_map.errata_problems(entries) == []
    for e in entries:
        if e["part"] == "A":
            assert original_quotes(e["body"]), f"{e['id']} quotes no original"
        assert "**What is wrong" in e["body"] or e["part"] == "B", e["id"]
        assert "**Correction" in e["body"] or e["part"] == "B", e["id"]


@needs_seeds
def test_every_quote_is_in_its_article(entries, articles):
    checked = 0
    for e in entries:
        for quote in original_quotes(e["body"]):
            for fragment in quote.split("…"):
                needle = normalise(fragment)
                if not needle:
                    continue
                where = [a for a in e["articles"] if needle in articles[a]]
                assert where, (
                    f"{e['id']}: not found in article(s) {e['articles']}: {fragment!r}"
                )
                checked += 1
    assert checked >= 100


@needs_seeds
def test_every_inline_quote_is_in_an_article(text, articles):
    quotes = re.findall(r"「(.+?)」", text)
    assert len(quotes) >= 30
    for quote in quotes:
        for fragment in quote.split("…"):
            needle = normalise(fragment)
            assert any(needle in a for a in articles.values()), (
                f"not in any article: {fragment!r}"
            )


def labels_in_course() -> set[str]:
    labels = set()
    for path in list((ROOT / "notebooks").glob("*/*.py")) + list(
        (ROOT / "book").glob("*.md")
    ):
        source = path.read_text(encoding="utf-8")
        labels |= set(re.findall(r"^(?:# )?\(([a-z0-9-]+)\)=\s*$", source, re.M))
        labels |= set(re.findall(r":label: ([a-z0-9-]+)\s*$", source, re.M))
    return labels


def test_every_ref_on_the_page_exists(text):
    labels = labels_in_course()
    refs = re.findall(r"\{ref\}`[^`<]*<([^>]+)>`", text) + re.findall(
        r"\{ref\}`([^`<]+)`", text
    )
    assert refs
    missing = sorted({r for r in refs if r not in labels})
    assert not missing, f"undefined labels: {missing}"


def test_runs_in_points_at_notebook_cells(entries):
    notebook_labels = set()
    for path in (ROOT / "notebooks").glob("*/*.py"):
        notebook_labels |= set(
            re.findall(
                r"^# \(([a-z0-9-]+)\)=\s*$", path.read_text(encoding="utf-8"), re.M
            )
        )
    runnable = [e for e in entries if e["link_kind"] == "Runs in"]
    assert len(runnable) >= 35
    for e in runnable:
        targets = re.findall(r"<([a-z0-9-]+)>`", e["link"])
        assert targets and all(t in notebook_labels for t in targets), (
            e["id"],
            targets,
        )
    # every code mistake of the articles is run
    assert all(
        e["link_kind"] == "Runs in"
        for e in entries
        if e["part"] == "A" and e["category"] == "code"
    )


def test_generated_tables_match_the_entries(text, entries):
    start, end = text.index(source_map.TABLES_BEGIN), text.index(source_map.TABLES_END)
    assert text[
        start : end + len(source_map.TABLES_END)
    ] == source_map.render_errata_tables(entries), (
        "the errata tables are stale: run `python tools/source_map.py --fix`"
    )


def test_counts_add_up(text, entries):
    block = text[
        text.index(source_map.TABLES_BEGIN) : text.index(source_map.TABLES_END)
    ]
    total = re.search(
        r"^\| \*\*all\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|$",
        block,
        re.M,
    )
    a = [e for e in entries if e["part"] == "A"]
    b = [e for e in entries if e["part"] == "B"]
    assert total and int(total.group(1)) == len(a) and int(total.group(3)) == len(b)
    rows = re.findall(r"^\| (00[0-4]) \| ((?:\d+ \| )+)(\d+) \|$", block, re.M)
    assert [r[0] for r in rows] == list(source_map.ARTICLE_IDS)
    for article, cells, total_a in rows:
        per_category = [int(c) for c in cells.strip(" |").split(" | ")]
        assert (
            sum(per_category)
            == int(total_a)
            == sum(article in e["articles"] for e in a)
        )


def test_citation_table_counts(text):
    table = text[text.index("| article | reference as given | verdict |") :]
    table = table[: table.index("\n\n")]
    rows = [r for r in table.splitlines()[2:] if r.startswith("|")]
    verdicts = [r.rsplit("|", 2)[1].strip() for r in rows]
    correct = sum(v.startswith("correct") for v in verdicts)
    wrong = sum(v.startswith("wrong") for v in verdicts)
    unverified = sum(v.startswith("could not verify") for v in verdicts)
    assert correct + wrong + unverified == len(rows)
    summary = re.search(
        r"Of the (\d+) references, (\d+) are correct, (\d+) are wrong .*? and (\d+) could not be\s+verified",
        text,
        re.S,
    )
    assert summary, "the sentence that counts the references is missing"
    assert tuple(map(int, summary.groups())) == (len(rows), correct, wrong, unverified)


def test_references_to_entries_use_their_numbers(entries):
    """{ref}`A12 <errata-x>` anywhere in the book: A12 is the number of the entry labelled errata-x."""
    number = {e["label"]: e["id"] for e in entries}
    pages = [ROOT / "book" / "errata.md", ROOT / "book" / "faq.md"] + list(
        (ROOT / "notebooks").glob("*/*.py")
    )
    for page in pages:
        for shown, label in re.findall(
            r"\{ref\}`([AB]\d+) <(errata-[a-z0-9-]+)>`",
            page.read_text(encoding="utf-8"),
        ):
            assert number.get(label) == shown, (
                f"{page.name}: {shown} links to {label}, which is {number.get(label)}"
            )
