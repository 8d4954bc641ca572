"""The pytest plugin's snippets in README.md and docs/pytest-plugin.md are code of tests/examples/, which runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = "\n".join(path.read_text() for path in sorted((ROOT / "tests" / "examples").glob("test_plugin_*.py")))


def _snippets(text: str) -> list[str]:
    return [block for block in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "def test_" in block]


def _plugin_part(path: str) -> str:
    text = (ROOT / path).read_text()
    if path == "README.md":
        start = text.index("## The pytest plugin")
        return text[start : text.index("\n## ", start + 1)]
    return text


@pytest.mark.parametrize("path", ["README.md", "docs/pytest-plugin.md"])
def test_every_plugin_snippet_is_code_of_a_run_example(path: str) -> None:
    snippets = _snippets(_plugin_part(path))
    assert len(snippets) >= 5
    missing = [snippet.splitlines()[0] for snippet in snippets if snippet.rstrip("\n") not in EXAMPLES]
    assert missing == [], f"{path}: snippets not found verbatim in tests/examples/test_plugin_*.py: {missing}"
