"""Open every page of the built website in headless Chromium and report what a reader would see broken.

The site is served from ``127.0.0.1``; every request to another host is refused and
reported. For each page, after its scripts have run (MathJax typesetting, Mermaid
rendering), the checker reports:

* math that MathJax did not typeset, MathJax errors, and raw ``\\(``, ``\\[``, ``$$`` in the text;
* Mermaid blocks that did not become an SVG;
* raw Markdown tables (``|---|``) and raw MyST roles or directives (``{doc}``, ``{cite}``,
  ``:::{``) in the visible text (code cells and code blocks excepted);
* absolute paths of the machine that built the site (passed in as ``forbidden``);
* images that did not load, local requests answered with an error, console errors,
  uncaught exceptions, and any request to a host other than the loopback one;
* and, across pages (:meth:`SiteChecker.broken_links`), internal links whose page or
  anchor does not exist.

Each problem names the page and the element. Used by ``tests/test_site.py`` (``make
site-test``); also runnable alone::

    python tools/site_check.py _build/html [--screenshots DIR page.html ...]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    # Belt and braces: besides the request filter below, no name resolves but loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
# Raw source that should have been rendered. Code (cell inputs, code blocks) is exempt.
RAW_PATTERNS = {
    "raw inline math": re.compile(r"\\\(|\\\)"),
    "raw display math": re.compile(r"\\\[|\\\]|\$\$"),
    "raw Markdown table": re.compile(r"\|\s*:?-{3,}:?\s*\||\|\s*:?[—–]+:?\s*\|"),
    "raw MyST role": re.compile(
        r"\{(?:doc|cite|cite:p|cite:t|ref|numref|eq|term|download|math|abbr)\}`"
    ),
    "raw MyST directive": re.compile(r":::\s*\{|```\s*\{"),
}
PAGE_TIMEOUT_MS = 30_000

# Runs in the page once it has loaded: waits for MathJax and Mermaid, then collects
# everything the Python side checks.
_COLLECT_JS = r"""
async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  const diagrams = () => Array.from(document.querySelectorAll('.mermaid'));
  for (let i = 0; i < 100 && diagrams().some(d => !d.querySelector('svg')); i++) await sleep(100);
  await Promise.all(Array.from(document.images).map(img => img.decode().catch(() => null)));

  const describe = el => {
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
    return (el.tagName.toLowerCase() + id + cls).slice(0, 80);
  };
  const snippet = s => (s || '').replace(/\s+/g, ' ').trim().slice(0, 100);

  // Math: Sphinx and MyST-NB wrap every formula in .math; MathJax puts an mjx-container inside.
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = maths.filter(m => !m.querySelector('mjx-container'))
                         .map(m => describe(m) + ': ' + snippet(m.textContent));
  const mathErrors = Array.from(document.querySelectorAll('mjx-merror'))
                          .map(m => snippet(m.getAttribute('data-mjx-error') || m.textContent));
  const unrendered = diagrams().filter(d => !d.querySelector('svg'))
                               .map(d => describe(d) + ': ' + snippet(d.textContent));

  // Visible text outside code: text nodes that are rendered, not inside code or rendered math.
  const skip = 'pre, code, script, style, textarea, mjx-container, .mermaid, .cell_input, .highlight';
  const outputs = '.cell_output';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !n.textContent.trim()) continue;
    const inOutput = el.closest(outputs);
    if (el.closest(skip) && !(inOutput && !el.closest('.cell_input, script, style, mjx-container'))) continue;
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) continue;
    texts.push([describe(el.closest('p, li, td, th, div, section, pre') || el), n.textContent]);
  }

  const images = Array.from(document.images).map(img => ({
    src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0, what: describe(img)}));
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => ({
    href: a.href, raw: a.getAttribute('href'), text: snippet(a.textContent) || describe(a)}));
  const ids = Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name'));
  return {title: document.title, maths: maths.length, untypeset, mathErrors,
          diagrams: diagrams().length, unrendered, texts, images, links, ids};
}
"""


@dataclass
class PageReport:
    page: str
    title: str = ""
    maths: int = 0
    diagrams: int = 0
    images: int = 0
    problems: list[str] = field(default_factory=list)
    # (absolute href, link text)
    links: list[tuple[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log in the test output
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    # a closed tab cuts a transfer short: not news
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _redirect_target(path: Path) -> str | None:
    """The target of a ``<meta http-equiv="refresh">`` page, else None."""
    head = path.read_text(encoding="utf-8", errors="replace")[:2000]
    m = re.search(
        r'<meta[^>]+http-equiv="refresh"[^>]+content="[^"]*url=([^"]+)"', head, re.I
    )
    return m.group(1).strip() if m else None


def find_chromium() -> str | None:
    """``$AIGC_CHROMIUM``, else Debian's ``chromium`` (or ``chromium-browser``, ``google-chrome``) on PATH."""
    env = os.environ.get("AIGC_CHROMIUM")
    if env:
        return env
    for name in (
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_pages(root: Path) -> list[str]:
    """Every HTML page of a built site, relative to its root, in a stable order."""
    skip = {"_static", "_sources", "_images", "_downloads", ".doctrees"}
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if not skip & set(p.relative_to(root).parts)
    )


class SiteChecker:
    """Serve ``root`` on 127.0.0.1 and check its pages in headless Chromium (a context manager)."""

    def __init__(
        self,
        root: Path,
        forbidden: list[str] | None = None,
        chromium: str | None = None,
    ):
        self.root = Path(root)
        if not (self.root / "index.html").exists() and not any(
            self.root.glob("*.html")
        ):
            raise ValueError(
                f"no HTML pages in {self.root.name}/: build the site first (make book)"
            )
        self.forbidden = [f for f in (forbidden or []) if f and len(f) > 1]
        self.chromium = chromium or find_chromium()
        if self.chromium is None:
            raise FileNotFoundError(
                "no Chromium found: install Debian's chromium or set AIGC_CHROMIUM"
            )
        self.reports: dict[str, PageReport] = {}
        self.external: list[tuple[str, str]] = []  # (page, url) of refused requests

    # -- set-up ---------------------------------------------------------------
    def __enter__(self) -> SiteChecker:
        from playwright.sync_api import sync_playwright

        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.server = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(
            executable_path=self.chromium, args=CHROMIUM_FLAGS
        )
        self.context = self.browser.new_context(
            viewport={"width": 1280, "height": 900}, service_workers="block"
        )
        self.context.route("**/*", self._route)
        self._page_name = ""
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.context.close()
            self.browser.close()
            self._pw.stop()
        finally:
            self.server.shutdown()
            self.server.server_close()

    def _route(self, route) -> None:
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOOPBACK:
            route.continue_()
        else:
            self.external.append((self._page_name, url))
            route.abort("blockedbyclient")

    def url(self, page: str) -> str:
        return urljoin(self.base, page)

    def page_of(self, url: str) -> str:
        path = urlparse(url).path
        return unquote(path[len(urlparse(self.base).path) :]) or "index.html"

    # -- one page -------------------------------------------------------------
    def check_page(self, page: str) -> PageReport:
        """Open ``page`` (relative to the root), let its scripts run, and report its problems."""
        report = PageReport(page)
        self._page_name = page
        redirect = _redirect_target(self.root / page)
        # e.g. index.html -> book/preface.html: check the target exists
        if redirect is not None:
            report.links = [(urljoin(self.url(page), redirect), "redirect")]
            self.reports[page] = report
            return report
        n_external = len(self.external)
        console: list[str] = []
        bad_responses: list[str] = []
        tab = self.context.new_page()
        tab.on(
            "console", lambda m: console.append(m.text) if m.type == "error" else None
        )
        tab.on("pageerror", lambda e: console.append(f"uncaught {e}"))
        tab.on(
            "response",
            lambda r: (
                bad_responses.append(f"{r.status} {self.page_of(r.url)}")
                if r.status >= 400 and urlparse(r.url).hostname in LOOPBACK
                else None
            ),
        )
        try:
            response = tab.goto(
                self.url(page), wait_until="load", timeout=PAGE_TIMEOUT_MS
            )
            if response is None or response.status >= 400:
                report.problems.append(
                    f"{page}: the page itself answered {response and response.status}"
                )
                return report
            data = self._collect(tab)
        finally:
            tab.close()
        report.title, report.maths, report.diagrams = (
            data["title"],
            data["maths"],
            data["diagrams"],
        )
        report.images = len(data["images"])
        report.ids = set(data["ids"])
        report.links = [(link["href"], link["text"]) for link in data["links"]]
        p = report.problems
        p += [f"{page}: math not typeset: {m}" for m in data["untypeset"]]
        p += [f"{page}: MathJax error: {m}" for m in data["mathErrors"]]
        p += [f"{page}: Mermaid diagram not rendered: {m}" for m in data["unrendered"]]
        for where, text in data["texts"]:
            for what, pattern in RAW_PATTERNS.items():
                hit = pattern.search(text)
                if hit:
                    a = max(0, hit.start() - 40)
                    p.append(
                        f"{page}: {what} in {where}: …{text[a : hit.end() + 40].strip()}…"
                    )
            for path in self.forbidden:
                if path in text:
                    at = text.index(path)
                    p.append(
                        f"{page}: a path of the building machine in {where}: "
                        f"…{text[max(0, at - 60) : at + len(path) + 60].strip()}…"
                    )
        p += [
            f"{page}: image did not load: {i['what']} {self.page_of(i['src']) if i['src'].startswith(self.base) else i['src'][:80]}"
            for i in data["images"]
            if not i["ok"]
        ]
        p += [f"{page}: local request failed: {r}" for r in bad_responses]
        p += [f"{page}: console error: {c[:200]}" for c in console]
        p += [
            f"{page}: request to another host refused: {u[:120]}"
            for _, u in self.external[n_external:]
        ]
        self.reports[page] = report
        return report

    @staticmethod
    def _collect(tab) -> dict:
        """Run the collecting script; a page that redirects (index.html) is followed."""
        from playwright.sync_api import Error

        for attempt in range(3):
            try:
                return tab.evaluate(_COLLECT_JS)
            except Error as err:
                if "context was destroyed" not in str(err) or attempt == 2:
                    raise
                tab.wait_for_load_state("load", timeout=PAGE_TIMEOUT_MS)
        raise AssertionError("unreachable")

    def screenshot(self, page: str, path: Path) -> Path:
        """A full-page PNG of ``page`` after its scripts have run."""
        self._page_name = page
        tab = self.context.new_page()
        try:
            tab.goto(self.url(page), wait_until="load", timeout=PAGE_TIMEOUT_MS)
            self._collect(tab)
            path.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(path), full_page=True)
        finally:
            tab.close()
        return path

    # -- across pages ---------------------------------------------------------
    def broken_links(self) -> list[str]:
        """Internal links of the checked pages whose target page or anchor does not exist."""
        problems, fetched = [], {}
        for page, report in sorted(self.reports.items()):
            for href, text in report.links:
                parsed = urlparse(href)
                if (
                    parsed.scheme not in ("http", "https")
                    or parsed.hostname not in LOOPBACK
                ):
                    # external links are not followed (no network); mailto: etc.
                    continue
                target, fragment = urldefrag(href)
                target_page = self.page_of(target)
                if target_page.endswith("/"):
                    target_page += "index.html"
                if target_page in self.reports:
                    ids = self.reports[target_page].ids
                else:
                    if target not in fetched:
                        fetched[target] = self._fetch(target)
                    status, body = fetched[target]
                    if status != 200:
                        problems.append(
                            f"{page}: link “{text}” → {target_page}: HTTP {status}"
                        )
                        continue
                    ids = (
                        set(re.findall(r'\b(?:id|name)="([^"]+)"', body))
                        if body
                        else None
                    )
                if fragment and ids is not None and unquote(fragment) not in ids:
                    problems.append(
                        f"{page}: link “{text}” → {target_page}#{fragment}: no such anchor"
                    )
        return problems

    def _fetch(self, url: str) -> tuple[int, str | None]:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                kind = r.headers.get("Content-Type", "")
                return r.status, r.read().decode(
                    "utf-8", "replace"
                ) if "html" in kind else None
        except urllib.error.HTTPError as err:
            return err.code, None
        except OSError as err:
            return -1, str(err)


def machine_paths(*extra: Path) -> list[str]:
    """Absolute paths of this machine that must never appear on a published page."""
    paths = {
        str(Path.home()),
        str(Path(__file__).resolve().parent.parent),
        *map(str, extra),
    }
    return sorted(p for p in paths if p not in ("/", ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the built site, e.g. _build/html")
    ap.add_argument("pages", nargs="*", help="pages to check (default: all)")
    ap.add_argument(
        "--screenshots", type=Path, help="save a full-page PNG of each page given here"
    )
    args = ap.parse_args()
    with SiteChecker(args.root, forbidden=machine_paths()) as checker:
        pages = args.pages or html_pages(args.root)
        problems = []
        for page in pages:
            problems += checker.check_page(page).problems
            if args.screenshots:
                checker.screenshot(
                    page,
                    args.screenshots
                    / (page.replace("/", "__").removesuffix(".html") + ".png"),
                )
        problems += checker.broken_links() if not args.pages else []
        summary = {
            "pages": len(pages),
            "math": sum(r.maths for r in checker.reports.values()),
            "diagrams": sum(r.diagrams for r in checker.reports.values()),
            "problems": len(problems),
        }
    print("\n".join(problems))
    print(json.dumps(summary))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
