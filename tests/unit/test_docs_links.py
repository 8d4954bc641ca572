"""The repository documents itself: every relative link in its Markdown resolves, and nothing a user reads
(Markdown, schema texts, CLI help, public docstrings) points outside the repository or cites section or
decision numbers of a document the user does not have."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import mockserver
from mockserver.cli import main

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"node_modules", ".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist"}

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`[^`]*`")
# A docs page named in plain text (schema descriptions, help texts): docs/contract.md#trader-lifecycle.
DOCS_REFERENCE = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
SHARED = re.compile(r"\.\./shared|shared/spec")
CITATION = re.compile(r"§|\bD\d{1,2}\b")


def markdown_files() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.md")):
        parts = set(path.relative_to(ROOT).parts[:-1])
        if parts & SKIPPED_DIRS:
            continue
        found.append(path)
    return found


def prose_lines(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks, where a link is a link."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path: Path) -> Iterator[str]:
    for line in prose_lines(path.read_text(encoding="utf-8")):
        without_code = INLINE_CODE.sub("", line)
        for match in LINK.finditer(without_code):
            yield match.group(1)
        for match in REFERENCE_DEFINITION.finditer(without_code):
            yield match.group(1)


def problem_with(source: Path, target: str) -> str | None:
    """Why a relative link from `source` does not resolve, or None when it does."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
        return None
    file_part, _, anchor = target.partition("#")
    resolved = source if not file_part else (source.parent / file_part).resolve()
    relative = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
    if file_part and not resolved.exists():
        return f"{target}: no file {relative}"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{target}: {relative} has no heading with anchor #{anchor}"
    return None


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path) -> None:
    problems = [problem for target in links(path) if (problem := problem_with(path, target))]
    assert not problems, f"{path.relative_to(ROOT)}: broken links:\n" + "\n".join(problems)


def test_the_link_checker_sees_broken_links_and_anchors(tmp_path: Path) -> None:
    """The checker itself: a link to a missing file or heading is found, a good one is not, code is ignored."""
    page = ROOT / "docs" / "contract.md"
    assert problem_with(page, "contract.md#trader-lifecycle") is None
    assert problem_with(page, "#trader-lifecycle") is None
    assert problem_with(page, "no-such-page.md") is not None
    assert problem_with(page, "contract.md#no-such-heading") is not None
    assert problem_with(page, "https://example.com/x.md") is None
    sample = tmp_path / "sample.md"
    sample.write_text(
        "# A `code` heading, with: punctuation\n\n[x](#a-code-heading-with-punctuation)\n"
        "```\n[not a link](missing.md)\n```\n[y](missing.md)\n",
        encoding="utf-8",
    )
    assert list(links(sample)) == ["#a-code-heading-with-punctuation", "missing.md"]
    assert anchors(sample) == {"a-code-heading-with-punctuation"}


def schema_texts() -> Iterator[tuple[str, str]]:
    """Every description and $comment of the shipped schemas (service schemas, control API, scenarios)."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "$comment", "title") and isinstance(value, str):
                    yield f"{where}/{key}", value
                else:
                    yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{where}/{index}")

    paths = [*sorted((ROOT / "schemas").glob("*.json")), *sorted((ROOT / "mockserver").rglob("*.json"))]
    assert len(paths) > 10
    for path in paths:
        yield from walk(json.loads(path.read_text(encoding="utf-8")), path.relative_to(ROOT).as_posix())


def help_texts() -> Iterator[tuple[str, str]]:
    """`cryptorobot-mock --help` and every subcommand's, as the user sees them."""
    runner = CliRunner()

    def visit(command: click.Command, words: list[str]) -> Iterator[tuple[str, str]]:
        result = runner.invoke(main, [*words, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        yield " ".join(["cryptorobot-mock", *words, "--help"]), result.output
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from visit(sub, [*words, name])

    yield from visit(main, [])


def public_docstrings() -> Iterator[tuple[str, str]]:
    """Docstrings of what `mockserver` exports and of their public methods and properties."""
    yield "mockserver", mockserver.__doc__ or ""
    for name in mockserver.__all__:
        value = getattr(mockserver, name)
        yield f"mockserver.{name}", inspect.getdoc(value) or ""
        if inspect.isclass(value):
            for member_name, member in vars(value).items():
                if member_name.startswith("_") and member_name != "__init__":
                    continue
                target = member.fget if isinstance(member, property) else member
                if callable(target) or isinstance(member, property):
                    yield f"mockserver.{name}.{member_name}", inspect.getdoc(target) or ""


def user_facing_texts() -> Iterator[tuple[str, str]]:
    for path in markdown_files():
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
    yield from schema_texts()
    yield from help_texts()
    yield from public_docstrings()


def test_nothing_user_facing_cites_internal_sections_or_decision_codes() -> None:
    found = [
        f"{where}: {match.group(0)!r} in {text[max(0, match.start() - 40) : match.end() + 40]!r}"
        for where, text in user_facing_texts()
        for match in [CITATION.search(text)]
        if match
    ]
    assert not found, "cite the docs pages instead:\n" + "\n".join(found)


def test_nothing_in_the_product_points_outside_the_repository() -> None:
    sources = [*markdown_files(), *sorted((ROOT / "schemas").glob("*.json"))]
    for package in ("mockserver", "pytest_plugin"):
        sources += [p for p in sorted((ROOT / package).rglob("*")) if p.suffix in (".py", ".json", ".yaml", ".md")]
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sources
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if SHARED.search(line)
    ]
    found += [where for where, text in help_texts() if SHARED.search(text)]
    assert not found, "write what the user needs in docs/ instead:\n" + "\n".join(found)


def test_docs_pages_named_in_schemas_and_help_exist() -> None:
    """`see docs/contract.md#timestamps` in a schema description or a help text leads somewhere."""
    problems = []
    for where, text in [*schema_texts(), *help_texts()]:
        for match in DOCS_REFERENCE.finditer(text):
            page, anchor = ROOT / "docs" / match.group(1), match.group(2)
            if not page.exists():
                problems.append(f"{where}: no page docs/{match.group(1)}")
            elif anchor and anchor not in anchors(page):
                problems.append(f"{where}: docs/{match.group(1)} has no heading #{anchor}")
    assert not problems, "\n".join(problems)
