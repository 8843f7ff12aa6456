"""Small fixes to the built pages, so that they load without console errors.

* sphinx-thebe adds its configuration script once per read of the sources, and a
  Jupyter Book build reads them twice: every page then declares ``const THEBE_JS_URL``
  twice, an uncaught ``SyntaxError`` in the browser console. Scripts that occur twice
  on a page (same file, same inline body) are written once.
"""
from __future__ import annotations


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
    if pagename == "book/preface":
        open("/tmp/dbg.txt", "w").write("\n".join(repr(s) + " " + repr(_script_key(s)) for s in scripts))


def setup(app):
    # after every extension that adds scripts to the page context
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
