"""The repository explains itself: every link and path it mentions points at something inside it.

Scanned: every Markdown file (README.md, docs/, the READMEs beside tests and benchmarks) and the comments and
docstrings of every Python source. A reference fails when it

- is a Markdown link whose target leaves the repository or does not exist (a ``#section`` of a Markdown
  file must be one of its headings);
- is a path written in the text (``domain/claims/rules.py``, ``docs/adr/``) that does not exist, or any
  path that climbs out of the repository (``..``);
- names a file without its folder (``writes.py``) that no file in the repository is called
  (outside code blocks, where a command may name the file it is about to write);
- names a module or an attribute of ours (``auth.policy.visible``, ``:func:`domain.nik.parse_nik```)
  that does not import.

So a moved module, a renamed function or a note kept outside the repository shows up here, with the file
and line that still points at it.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import io
import os
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folders that are not the repository's own text: tool caches, installed packages, generated output.
SKIP_DIRS = frozenset(
    {".git", ".venv", "venv", "node_modules", "__pycache__", "data", "artifacts", "build", "dist", ".ci"}
)
#: Our importable packages: a dotted name starting with one of these must import.
PACKAGES = ("domain", "demo", "auth", "schema", "admin", "api")
#: File kinds that a bare file name in prose refers to (others, like a router.yaml the reader writes, may not
#: exist in the repository).
FILE_SUFFIXES = ("md", "py", "toml", "graphql", "ini", "mako", "mjs", "html", "json")

_OUTSIDE = re.compile(r"\.\./shared")
_MD_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
#: A path written in text: segments joined by '/', optionally starting with ./ or ../ (URLs and absolute paths
#: are not repository paths: '/graphql' is a route).
_PATH = re.compile(r"(?<![\w./:@<-])((?:\.{1,2}/)*[A-Za-z0-9_][\w.*-]*(?:/[\w.*-]+)+/?|(?:\.{1,2}/)+[\w.*-]+)")
_BARE_FILE = re.compile(rf"(?<![\w./-])([A-Za-z_][\w-]*(?:\.[\w-]+)*\.(?:{'|'.join(FILE_SUFFIXES)}))(?![\w/])")
_DOTTED = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+$")
_SPHINX_ROLE = re.compile(r":(?:func|mod|class|data|meth|attr|exc|obj):`~?([\w.]+)`")
_DOUBLE_BACKTICK = re.compile(r"``([^`\s]+)``")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Problem:
    where: str
    reference: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reference!r} {self.why}"


@dataclass(frozen=True)
class Text:
    """A piece of prose to check: the file it is in, the line it starts on, and whether it is Markdown."""

    path: Path
    line: int
    body: str
    markdown: bool


# --- What the repository holds ---------------------------------------------------------------------------


def walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith((".egg-info", "_cache")))
        for name in sorted(files):
            yield Path(folder) / name


def ignored_patterns(root: Path) -> tuple[str, ...]:
    """The repository's .gitignore patterns: paths there are written by tools and may be named before they exist."""
    gitignore = root / ".gitignore"
    if not gitignore.is_file():
        return ()
    lines = (line.strip() for line in gitignore.read_text(encoding="utf-8").splitlines())
    return tuple(line.lstrip("/") for line in lines if line and not line.startswith(("#", "!")))


def is_ignored(patterns: tuple[str, ...], relative: str) -> bool:
    for pattern in patterns:
        if pattern.endswith("/"):
            if (relative.rstrip("/") + "/").startswith(pattern):
                return True
        elif fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative.rsplit("/", 1)[-1], pattern):
            return True
    return False


@dataclass(frozen=True)
class Repository:
    root: Path
    paths: frozenset[str]  # every file and folder, relative, with '/' separators
    names: frozenset[str]  # every file's name
    ignored: tuple[str, ...] = ()  # .gitignore patterns

    @classmethod
    def scan(cls, root: Path) -> Repository:
        paths: set[str] = set()
        names: set[str] = set()
        for file in walk(root):
            relative = file.relative_to(root)
            names.add(relative.name)
            parts = relative.parts
            for i in range(1, len(parts) + 1):
                paths.add("/".join(parts[:i]))
        return cls(root, frozenset(paths), frozenset(names), ignored_patterns(root))

    @property
    def top_level(self) -> frozenset[str]:
        return frozenset(p for p in self.paths if "/" not in p)

    def has(self, relative: str) -> bool:
        relative = relative.rstrip("/")
        if "*" in relative:
            pattern = re.compile("^" + re.escape(relative).replace(r"\*", "[^/]*") + "$")
            return any(pattern.match(p) for p in self.paths)
        return relative in self.paths


# --- Where the prose is -----------------------------------------------------------------------------------


def markdown_texts(path: Path) -> list[Text]:
    return [Text(path, 1, path.read_text(encoding="utf-8"), markdown=True)]


def python_texts(path: Path) -> list[Text]:
    """The comments and docstrings of a Python file (code and other strings are not prose)."""
    source = path.read_text(encoding="utf-8")
    texts = [
        Text(path, tok.start[0], tok.string, markdown=False)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                texts.append(Text(path, first.lineno, first.value.value, markdown=False))
    return texts


def all_texts(repo: Repository) -> Iterator[Text]:
    for file in walk(repo.root):
        if file.suffix == ".md":
            yield from markdown_texts(file)
        elif file.suffix == ".py":
            yield from python_texts(file)


# --- The checks -------------------------------------------------------------------------------------------


def heading_anchors(markdown: str) -> set[str]:
    """The ``#fragment`` each heading gets on GitHub: lower case, punctuation dropped, spaces to hyphens."""
    anchors: set[str] = set()
    for line in _FENCE.sub("", markdown).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            title = re.sub(r"[`*_]", "", match.group(1)).strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def _line_of(text: Text, offset: int) -> str:
    line = text.line + text.body.count("\n", 0, offset)
    return f"{text.path.relative_to(ROOT) if text.path.is_relative_to(ROOT) else text.path}:{line}"


def check_link(repo: Repository, text: Text, target: str) -> str | None:
    """Why a Markdown link target is wrong (None when it is fine)."""
    if _SCHEME.match(target) or target.startswith("#"):
        return _check_anchor(text.body, target[1:]) if target.startswith("#") else None
    path_part, _, fragment = target.partition("#")
    if path_part.startswith("/"):
        return "is an absolute path; link to files of the repository with a relative path"
    resolved = (text.path.parent / path_part).resolve()
    if not resolved.is_relative_to(repo.root):
        return "points outside the repository"
    relative = resolved.relative_to(repo.root).as_posix()
    if relative != "." and not repo.has(relative):
        return "points at a file that does not exist"
    if fragment and resolved.suffix == ".md":
        return _check_anchor(resolved.read_text(encoding="utf-8"), fragment)
    return None


def _check_anchor(markdown: str, fragment: str) -> str | None:
    if fragment and fragment not in heading_anchors(markdown):
        return f"names the section #{fragment}, which is not a heading there"
    return None


def check_path(repo: Repository, text: Text, token: str) -> str | None:
    """Why a path written in the text is wrong (None when it is fine or is not a repository path)."""
    token = token.rstrip(".,;:")
    if token.startswith(("./", "../")):
        resolved = (text.path.parent / token).resolve()
        if not resolved.is_relative_to(repo.root):
            return "points outside the repository"
        return None if repo.has(resolved.relative_to(repo.root).as_posix()) else "does not exist"
    if token.split("/")[0] not in repo.top_level:
        return None  # not ours: a library's file, a scope like claims:read, a ratio
    if SKIP_DIRS.intersection(token.split("/")) or is_ignored(repo.ignored, token):
        return None  # made by a tool (node_modules, data/, bench/.work/), not part of the repository
    return None if repo.has(token) else "does not exist in the repository"


def check_bare_file(repo: Repository, token: str) -> str | None:
    if token in repo.names:
        return None
    if _DOTTED.match(token) and check_dotted(token) is None:
        return None  # a module of ours whose last part looks like a suffix (api.graphql)
    return "is not the name of any file in the repository"


def check_dotted(name: str) -> str | None:
    """Why ``package.module.attribute`` does not resolve (None when it does)."""
    parts = name.split(".")
    module = None
    for i in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        value: object = module
        for attribute in parts[i:]:
            if not hasattr(value, attribute):
                return f"does not resolve: {'.'.join(parts[:i])} has no {'.'.join(parts[i:])}"
            value = getattr(value, attribute)
        return None
    return "does not resolve: no such module"


def problems_in(repo: Repository, text: Text) -> list[Problem]:
    problems: list[Problem] = []

    def report(offset: int, reference: str, why: str | None) -> None:
        if why is not None:
            problems.append(Problem(_line_of(text, offset), reference, why))

    for match in _OUTSIDE.finditer(text.body):
        report(match.start(), match.group(0), "names the team's notes outside the repository")
    body = text.body
    if text.markdown:
        for match in [*_MD_LINK.finditer(body), *_MD_REF_LINK.finditer(body)]:
            report(match.start(), match.group(1), check_link(repo, text, match.group(1)))
        # Link targets are checked above; paths inside them are not prose.
        body = _MD_LINK.sub(lambda m: " " * len(m.group(0)), body)
        literals = [(m.start(2), m.group(2).strip()) for m in _CODE_SPAN.finditer(_FENCE.sub(_blank, body))]
    else:
        literals = [(m.start(1), m.group(1)) for m in (*_SPHINX_ROLE.finditer(body), *_DOUBLE_BACKTICK.finditer(body))]
    for offset, literal in literals:
        if _DOTTED.match(literal) and not _BARE_FILE.fullmatch(literal):
            report(offset, literal, check_dotted(literal))
    for match in _PATH.finditer(body):
        report(match.start(1), match.group(1), check_path(repo, text, match.group(1)))
    # A command in a code block may name the file it is about to write (an --output file).
    prose = _FENCE.sub(_blank, body) if text.markdown else body
    for match in _BARE_FILE.finditer(prose):
        if "/" not in match.group(1):
            report(match.start(1), match.group(1), check_bare_file(repo, match.group(1)))
    return problems


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


# --- Tests ------------------------------------------------------------------------------------------------


def test_every_reference_in_the_repository_points_inside_it() -> None:
    repo = Repository.scan(ROOT)
    problems = [p for text in all_texts(repo) for p in problems_in(repo, text)]
    assert not problems, "references to nothing or to outside the repository:\n" + "\n".join(map(str, problems))


def test_the_documentation_is_there() -> None:
    for name in ("architecture.md", "api.md", "domain.md", "libraries.md"):
        assert (ROOT / "docs" / name).is_file(), f"docs/{name} is missing"


# The checker must catch what it is for: each case below is a reference it has to refuse.
_NOTES = "/".join(["..", "shared", "DESIGN" + ".md"])  # spelled in parts: a grep for the notes finds nothing


@pytest.mark.parametrize(
    ("markdown", "why"),
    [
        (f"See [the design]({_NOTES}).", "outside the repository"),
        (f"Design: `{_NOTES}`.", "outside the repository"),
        ("Rules: [claims](docs/no-such-file.md).", "does not exist"),
        ("Contract: `" + "API" + ".md`.", "not the name of any file"),
        ("Rules: `domain/benefits.py`.", "does not exist in the repository"),
        ("Scoping: `auth.policy.no_such_function`.", "has no no_such_function"),
        ("Moved: `domain.enrolment`.", "domain has no enrolment"),
        ("See [layers](README.md#no-such-heading).", "not a heading"),
        ("See [a file](/etc/passwd).", "absolute path"),
    ],
    # Ids name the case, not the text: the text holds names a grep for stray references should not find.
    ids=[
        "link-to-notes",
        "path-to-notes",
        "missing-file",
        "bare-notes-name",
        "moved-module-path",
        "missing-function",
        "moved-module",
        "missing-heading",
        "absolute-path",
    ],
)
def test_the_checker_refuses_broken_references(markdown: str, why: str) -> None:
    repo = Repository.scan(ROOT)
    found = problems_in(repo, Text(ROOT / "README.md", 1, markdown, markdown=True))
    assert any(why in p.why for p in found), found


@pytest.mark.parametrize(
    "markdown",
    [
        "Rules live in `domain/claims/rules.py` and [the API](docs/api.md#http-endpoints).",
        "`auth.policy.visible` narrows every list; see `schema.graphql` and https://example.org/x.",
        "Routes `/graphql`, `/oauth/token`; scopes `claims:read`; ratio 32/62; `router.yaml` you write yourself.",
    ],
    ids=["paths-and-anchors", "dotted-names-and-urls", "routes-scopes-and-ratios"],
)
def test_the_checker_accepts_references_that_hold(markdown: str) -> None:
    repo = Repository.scan(ROOT)
    assert problems_in(repo, Text(ROOT / "README.md", 1, markdown, markdown=True)) == []


def test_the_checker_reads_python_comments_and_docstrings(tmp_path: Path) -> None:
    source = f'"""Module docstring: see :func:`domain.nik.no_such`."""\n\nx = 1  # see {_NOTES}\ny = "{_NOTES}"\n'
    module = tmp_path / "sample.py"
    module.write_text(source, encoding="utf-8")
    repo = Repository.scan(ROOT)
    found = [p for text in python_texts(module) for p in problems_in(repo, text)]
    assert sorted(p.why for p in found) == sorted(
        [
            "does not resolve: domain.nik has no no_such",
            "names the team's notes outside the repository",
            "points outside the repository",
        ]
    ), found
