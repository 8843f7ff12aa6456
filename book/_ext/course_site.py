"""Small fixes to the built pages, so that they load without console errors.

* sphinx-thebe adds its configuration script once per read of the sources, and a
  Jupyter Book build reads them twice: every page then declares ``const THEBE_JS_URL``
  twice, an uncaught ``SyntaxError`` in the browser console. Scripts that occur twice
  on a page (same file, same inline body) are written once.
* The launch button's Colab link of a notebook page opens the page's **student**
  notebook (``colab/student/<chapter>/<name>.ipynb``, written by
  ``tools/export_notebooks.py``: plain Jupyter Markdown, no solutions) instead of the
  MyST source the site is built from.
"""

from __future__ import annotations

from pathlib import Path


def _script_key(script):
    # an inline script's filename is None from one call and "" from another
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def student_colab_link(app, pagename, templatename, context, doctree):
    """Point the Colab launch button of ``notebooks/<chapter>/<name>`` at
    ``colab/student/<chapter>/<name>.ipynb``, if that notebook exists."""
    if not pagename.startswith("notebooks/"):
        return
    source = f"{pagename}.ipynb"
    student = f"colab/student/{pagename[len('notebooks/') :]}.ipynb"
    if not (Path(app.srcdir) / student).is_file():
        return
    for group in context.get("header_buttons") or []:
        for button in (
            group.get("buttons", []) if group.get("label") == "launch-buttons" else []
        ):
            url = button.get("url", "")
            if button.get("text") == "Colab" and url.endswith(f"/{source}"):
                button["url"] = url[: -len(source)] + student


def setup(app):
    # after every extension that adds scripts to the page context
    app.connect("html-page-context", dedupe_scripts, priority=900)
    # after sphinx-book-theme's launch buttons (priority 501)
    app.connect("html-page-context", student_colab_link, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
