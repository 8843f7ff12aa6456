"""The built website, opened page by page in headless Chromium (``make site-test``).

Run after ``make book``: every page of ``_build/html`` is served on 127.0.0.1 and
checked by ``tools/site_check.py`` with every request to another host refused (math
typeset, diagrams drawn, no raw Markdown tables or MyST, images and internal links
resolve, no console error, no path of the building machine). A few pages are saved
as full-page screenshots in ``_build/screenshots/`` for a reviewer, with a summary in
``_build/screenshots/site-check.json``.

These tests are marked ``site`` and are not part of ``make unit``: they need the built
site and a Chromium (Debian's ``chromium``, or ``$AIGC_CHROMIUM``), and they fail,
rather than skip, when either is missing.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import site_check

pytestmark = pytest.mark.site

SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FIXTURE = Path(__file__).resolve().parent / "site_fixture"
# Pages a reviewer should look at: the preface, the flagship GAN labs, the results
# page (generated tables), and a page with Mermaid diagrams.
SCREENSHOT_PAGES = [
    "book/preface.html",
    "notebooks/03_gans/gan_pytorch.html",
    "notebooks/03_gans/gan_keras.html",
    "notebooks/08_evaluation/results.html",
    "notebooks/02_concepts/core_concepts.html",
]


def _pages() -> list[str]:
    return (
        site_check.html_pages(SITE)
        if SITE.is_dir()
        else ["(the site is not built: run make book)"]
    )


@pytest.fixture(scope="session")
def checker():
    if not (SITE / "index.html").exists():
        pytest.fail("no built site in _build/html: run `make book` first")
    if site_check.find_chromium() is None:
        pytest.fail(
            "no Chromium: install Debian's chromium (apt-get install chromium) or set AIGC_CHROMIUM"
        )
    # Paths of this machine that must never show on a page: the checkout, the folder
    # beside it (where the shared data folder lives), the home folder and the temporary folder.
    forbidden = site_check.machine_paths(ROOT.parent, Path(tempfile.gettempdir()))
    with site_check.SiteChecker(SITE, forbidden=[p + "/" for p in forbidden]) as c:
        yield c
        SHOTS.mkdir(parents=True, exist_ok=True)
        summary = {
            "pages": len(c.reports),
            "math_elements_typeset": sum(r.maths for r in c.reports.values()),
            "mermaid_diagrams_rendered": sum(r.diagrams for r in c.reports.values()),
            "images_loaded": sum(r.images for r in c.reports.values()),
            "per_page": {
                p: {"math": r.maths, "diagrams": r.diagrams, "images": r.images}
                for p, r in sorted(c.reports.items())
            },
        }
        (SHOTS / "site-check.json").write_text(
            json.dumps(summary, indent=1), encoding="utf-8"
        )


# ---------------------------------------------------------------------------
# the checker itself: a page with one of each problem must be reported
# ---------------------------------------------------------------------------
def test_checker_reports_every_kind_of_problem(tmp_path):
    """Proves the browser test can fail: each planted fault is found, named by page and element."""
    if site_check.find_chromium() is None:
        pytest.fail("no Chromium: install Debian's chromium or set AIGC_CHROMIUM")
    shutil.copytree(FIXTURE, tmp_path / "site")
    with site_check.SiteChecker(tmp_path / "site", forbidden=["MACHINE_PATH/"]) as c:
        broken = c.check_page("broken.html").problems
        clean = c.check_page("other.html").problems
        links = c.broken_links()
    text = "\n".join(broken)
    expected = {
        "math not typeset: span.math": "inline math left as TeX",
        "math not typeset: div#display.math": "display math left as TeX",
        "raw inline math": "raw \\( in the text",
        "raw display math": "raw \\[ in the text",
        "raw Markdown table in p#table-para": "a pipe table shown as text",
        "raw MyST role in p#role-para": "a {doc} role shown as text",
        "raw MyST directive in p#directive-para": "a ::: directive shown as text",
        "Mermaid diagram not rendered: pre#diagram.mermaid": "a diagram left as source",
        "a path of the building machine in pre#output": "a machine path in an output",
        "image did not load: img#missing-img": "a missing image",
        "local request failed: 404 missing.png": "the image's 404",
        "console error: uncaught fixture: uncaught": "an uncaught exception",
        "request to another host refused: https://cdn.example.invalid/": "a CDN script",
    }
    missing = [why for needle, why in expected.items() if needle not in text]
    assert not missing, f"the checker missed: {missing}\nit reported:\n{text}"
    assert all(p.startswith("broken.html: ") for p in broken)
    assert clean == [], f"false alarms on the clean page: {clean}"
    assert any(
        "broken.html: link “a link to a missing anchor” → other.html#no-such-heading: no such anchor"
        in p
        for p in links
    ), links
    assert any(
        "broken.html: link “a link to a missing page” → gone.html: HTTP 404" in p
        for p in links
    ), links
    assert not any(p.startswith("other.html") for p in links), links


# ---------------------------------------------------------------------------
# the real site
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("page", _pages())
def test_page_renders(checker, page):
    report = checker.check_page(page)
    assert not report.problems, "\n".join(report.problems)


def test_internal_links_resolve(checker):
    for page in _pages():
        if page not in checker.reports:
            checker.check_page(page)
    problems = checker.broken_links()
    assert not problems, "\n".join(problems)


def test_results_page_shows_tables_not_code(checker):
    """The results page's generated tables are HTML tables; its code is hidden by default."""
    tab = checker.context.new_page()
    try:
        tab.goto(checker.url("notebooks/08_evaluation/results.html"), wait_until="load")
        tables = tab.locator("main table").count()
        visible_code = tab.evaluate("""() => Array.from(document.querySelectorAll('main .cell_input'))
            .filter(e => e.checkVisibility()).length""")
    finally:
        tab.close()
    assert tables >= 4, (
        f"expected the results page's tables as <table> elements, found {tables}"
    )
    assert visible_code == 0, (
        f"{visible_code} code cells visible on the results page (hide them)"
    )


@pytest.mark.parametrize("page", SCREENSHOT_PAGES)
def test_screenshot(checker, page):
    path = SHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")
    checker.screenshot(page, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, (
        f"{path.name}: not a real screenshot"
    )
