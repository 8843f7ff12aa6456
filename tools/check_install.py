"""Check that the course's install resolves on every Python that pyproject.toml allows.

For each minor version inside ``requires-python`` (and, to show the cap is needed, the
first one above it), asks pip to resolve what ``make install`` installs:

    pip install -e ".[torch,keras,data,book,dev]"   plus   tensorflow-cpu>=2.16

for that Python on this platform, from wheels only, without installing anything
(``pip install --dry-run --python-version X --only-binary=:all:``). Needs the package
index (PyPI); takes a minute or two per version.

    python tools/check_install.py                  # every version in range, then the one above
    python tools/check_install.py --python 3.12    # only these
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("torch", "keras", "data", "book", "dev")
ALSO = ("tensorflow-cpu>=2.16",)  # installed by the Makefile before the package


def pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(project: dict) -> list[str]:
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return sorted(set(reqs) | set(ALSO))


def python_range(spec: str) -> tuple[list[str], str]:
    """The minor versions inside ``>=3.A,<3.B`` and the first one outside it."""
    low = re.search(r">=\s*3\.(\d+)", spec)
    high = re.search(r"<\s*3\.(\d+)", spec)
    if low is None or high is None:
        raise ValueError(f"requires-python: expected '>=3.A,<3.B', got {spec!r}")
    inside = [f"3.{m}" for m in range(int(low.group(1)), int(high.group(1)))]
    return inside, f"3.{high.group(1)}"


def resolves(version: str, reqs: list[str]) -> tuple[bool, str]:
    """(True, the resolved versions of a few key packages) or (False, pip's error)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--only-binary=:all:",
            "--python-version",
            version,
            "--report",
            str(report),
            *reqs,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
            return False, " ".join(lines[:2]) or done.stderr.strip()[-300:]
        picked = {
            re.sub(r"[-_.]+", "-", item["metadata"]["name"].lower()): item["metadata"][
                "version"
            ]
            for item in json.loads(report.read_text())["install"]
        }
    # pip falls back to a pre-release when no release fits: that is no support
    pre = sorted(f"{k} {v}" for k, v in picked.items() if Version(v).is_prerelease)
    if pre:
        return False, "only pre-releases fit: " + ", ".join(pre)
    keys = (
        "numpy",
        "torch",
        "tensorflow-cpu",
        "keras",
        "opacus",
        "jupyter-book",
        "jupyterlab",
    )
    return True, ", ".join(f"{k} {picked[k]}" for k in keys if k in picked)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--python",
        nargs="*",
        help="versions to try (default: the range, then one above)",
    )
    args = parser.parse_args()
    project = pyproject()["project"]
    inside, above = python_range(project["requires-python"])
    versions = args.python or inside + [above]
    reqs = requirements(project)
    failed = []
    for version in versions:
        ok, what = resolves(version, reqs)
        expected = version in inside
        mark = "ok" if ok else "no"
        print(
            f"Python {version} ({'inside' if expected else 'outside'} requires-python "
            f"{project['requires-python']}): {mark}: {what}",
            flush=True,
        )
        if expected and not ok:
            failed.append(version)
    if failed:
        print(
            f"does not resolve on {', '.join(failed)}: fix the bounds in pyproject.toml"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
