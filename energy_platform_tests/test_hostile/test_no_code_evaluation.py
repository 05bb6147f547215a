"""Input is data, never code: the package has no eval/exec/pickle/unsafe YAML on any path."""

from __future__ import annotations

import re
from pathlib import Path

import energy_platform

PACKAGE = Path(energy_platform.__file__).resolve().parent
FORBIDDEN = re.compile(
    r"(?<![.\w])(eval|exec|compile)\s*\(|\bpickle\.loads?\b|\bmarshal\.loads?\b|\bdill\b|\bcloudpickle\b"
    r"|\byaml\.load\s*\((?![^)]*SafeLoader)|\bsubprocess\.[a-z_]+\([^)]*shell\s*=\s*True"
    r"|\bos\.system\s*\(|\b__import__\s*\("
)


def test_package_never_evaluates_or_unpickles_anything() -> None:
    hits = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN.search(line) and not line.lstrip().startswith("#")
    ]
    assert hits == []


def test_the_pattern_catches_what_it_is_for() -> None:
    for bad in (
        "eval(x)",
        "exec (code)",
        "pickle.loads(b)",
        "yaml.load(f)",
        "os.system('x')",
        "compile(src, f, m)",
    ):
        assert FORBIDDEN.search(bad), bad
    for fine in (
        "yaml.load(f, Loader=yaml.SafeLoader)",
        "json.loads(b)",
        "evaluate(x)",
        "re.compile(p)",
    ):
        assert not FORBIDDEN.search(fine), fine
