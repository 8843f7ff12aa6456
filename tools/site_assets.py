"""Put the scripts the website needs into the built site's ``_static/vendor/``, so that it needs no CDN.

Every page of the site must render with no network: math with MathJax 3, diagrams
with Mermaid. Both come from the npm registry at build time, at the exact versions
pinned in ``tools/site_assets/package.json`` and ``package-lock.json`` (``npm ci``
checks each package against the lock file's SHA-512). This script copies the files
the site loads into ``_build/site_assets/vendor/`` (served as ``_static/vendor/``), with each licence and a
``VERSIONS.txt``. ``make book`` runs it first; ``_config.yml`` points Sphinx's
``mathjax_path`` and sphinxcontrib-mermaid's ``mermaid_use_local`` at the copies.

To update: change the versions in ``tools/site_assets/package.json``, run
``npm install --package-lock-only --prefix tools/site_assets``, then ``make book`` and
``make site-test`` (the browser test fails if a page no longer renders).

    python tools/site_assets.py          # npm ci (if needed) + copy
    python tools/site_assets.py --check  # exit 1 if the copies are missing or stale
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NPM_DIR = ROOT / "tools" / "site_assets"
MODULES = NPM_DIR / "node_modules"
# Not `_static/`: Jupyter Book adds every .js file under `_static/` to every page.
VENDOR = ROOT / "_build" / "site_assets" / "vendor"

# What the site loads, per package: (source relative to the package, target folder).
# MathJax: the TeX-to-CommonHTML bundle plus the components and fonts it loads on
# demand (TeX extensions via autoload, the menu, the woff-v2 fonts), from es5/.
# Mermaid: the ES module sphinxcontrib-mermaid imports, plus its chunks (no source maps).
FILES = {
    "mathjax": [
        "es5/tex-chtml.js",
        "es5/input",
        "es5/output/chtml",
        "es5/ui",
        "es5/a11y",
        "es5/adaptors",
        "es5/sre",
        "LICENSE",
    ],
    "mermaid": ["dist/mermaid.esm.min.mjs", "dist/chunks/mermaid.esm.min", "LICENSE"],
}


def pinned() -> dict[str, str]:
    return json.loads((NPM_DIR / "package.json").read_text(encoding="utf-8"))[
        "dependencies"
    ]


def installed_version(name: str) -> str | None:
    meta = MODULES / name / "package.json"
    return (
        json.loads(meta.read_text(encoding="utf-8"))["version"]
        if meta.exists()
        else None
    )


def stamp() -> str:
    lines = []
    for name, version in pinned().items():
        license_ = json.loads(
            (MODULES / name / "package.json").read_text(encoding="utf-8")
        ).get("license")
        lines.append(
            f"{name} {version} ({license_}): from the npm registry via tools/site_assets/"
        )
    return "\n".join(lines) + "\n"


def npm_ci() -> None:
    if all(installed_version(n) == v for n, v in pinned().items()):
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit(
            "site_assets: npm not found. The website serves MathJax and Mermaid itself and "
            "takes them from the npm registry: install Node.js (with npm) and run again."
        )
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NPM_DIR,
        check=True,
    )


def copy_one(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(
            src, dst, ignore=shutil.ignore_patterns("*.map"), dirs_exist_ok=True
        )
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def build() -> None:
    npm_ci()
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for name, paths in FILES.items():
        for rel in paths:
            src = MODULES / name / rel
            if not src.exists():
                sys.exit(
                    f"site_assets: {name} has no {rel}: did its layout change? Update FILES."
                )
            # es5/... -> vendor/mathjax/...; dist/... -> vendor/mermaid/...
            inner = (
                Path(*Path(rel).parts[1:])
                if Path(rel).parts[0] in ("es5", "dist")
                else Path(rel)
            )
            copy_one(src, VENDOR / name / inner)
    (VENDOR / "VERSIONS.txt").write_text(stamp(), encoding="utf-8")
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file()) / 2**20
    print(
        f"site_assets: {', '.join(f'{n} {v}' for n, v in pinned().items())} -> _build/site_assets/vendor/ "
        f"({size:.1f} MiB)"
    )


def check() -> int:
    versions = VENDOR / "VERSIONS.txt"
    if not versions.exists():
        print(
            "site_assets: _build/site_assets/vendor/ is missing: run `python tools/site_assets.py`"
        )
        return 1
    text = versions.read_text(encoding="utf-8")
    stale = [f"{n} {v}" for n, v in pinned().items() if f"{n} {v} " not in text]
    if stale:
        print(
            f"site_assets: _build/site_assets/vendor/ does not hold {', '.join(stale)}: run it again"
        )
        return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check the copies")
    args = ap.parse_args()
    if args.check:
        return check()
    build()
    return check()


if __name__ == "__main__":
    sys.exit(main())
