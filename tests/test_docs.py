"""The README and docs/ stay true to the code, in the manner of datasette's ``tests/test_docs.py``: a setting, a
command, an API route or a module left undocumented fails here, and so does a README that lists one twice.

The conventions:
- **settings**: every field of ``Settings`` appears spelled in full, ``PAPERFEED_<NAME>``, in README.md or
  docs/*.md (a grouped short form such as ``_SIGNUP`` does not count); every ``PAPERFEED_…`` they name is a
  setting; every setting has help text (``paperfeed settings`` prints it).
- **commands**: every command of ``paperfeed`` (``serve``, ``ingest oai``, ``users create`` …) starts exactly
  one line of the README's "Command line" block, ``paperfeed <command> …``; indented lines continue it. Each
  ``--flag`` such an entry shows is an option of that command.
- **routes**: every ``/api/`` path and feed in ``web.routes.ROUTES`` appears in README.md or docs/*.md, a path
  parameter written as any ``{name}`` (``/api/papers/{id}/similar``).
- **modules**: the README's "Layout" block and the package's files agree. ``  name.py  …`` names a top-level
  module; ``  pkg/  …`` lists the modules of ``paperfeed/pkg/`` as items separated by ``,`` or ``;`` outside
  parentheses, each starting with a module name (``db (engines, SQLite tuning)``) or a folder (``templates/``),
  optionally after a label (``features: pages``); a module of a folder inside it is named in that folder's
  parentheses (``migrations/ (env: …)``). ``__init__.py`` and migration versions are not listed.
- **the README lists nothing twice**: "What is inside" rows, commands, settings-table variables, layout entries.
- **benchmarks**: every bench script records its figures into its own section of docs/benchmarks.md
  (``bench/report.py``, tested here too; it and ``bench/paced.py`` are helpers the benches import); links
  between the documents resolve.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType

import click
import pytest

import paperfeed
from paperfeed.cli import main
from paperfeed.settings import Settings
from paperfeed.web.routes import ROUTES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(paperfeed.__file__).resolve().parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
EVERYTHING = "\n".join([README, *DOCS.values()])


def section(text: str, heading: str) -> str:
    """The text under a ``## heading``, up to the next one."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {heading}' section"
    return match.group(1)


def fenced(text: str) -> str:
    """The first fenced code block of ``text``."""
    match = re.search(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    assert match, "no fenced block"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (header and rule left out)."""
    rows = [line.strip().strip("|").split(" | ") for line in text.splitlines() if line.startswith("|")]
    return rows[2:]


# -- settings --------------------------------------------------------------------------------------------

SETTINGS = [f"PAPERFEED_{name.upper()}" for name in Settings.model_fields]
SETTING_WORD = re.compile(r"PAPERFEED_[A-Z][A-Z0-9_]*")


@pytest.mark.parametrize("variable", SETTINGS)
def test_every_setting_is_documented(variable: str) -> None:
    assert re.search(rf"\b{variable}\b", EVERYTHING), f"{variable} is in neither README.md nor docs/*.md"


@pytest.mark.parametrize("variable", sorted(set(SETTING_WORD.findall(EVERYTHING))))
def test_every_variable_the_docs_name_is_a_setting(variable: str) -> None:
    assert variable in SETTINGS, f"README.md or docs/ name {variable}, which paperfeed/settings.py lacks"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_has_help(name: str) -> None:
    assert (Settings.model_fields[name].description or "").strip(), f"{name} has no description"


def readme_settings_table() -> list[str]:
    return [v for row in table_rows(section(README, "Settings")) for v in SETTING_WORD.findall(row[0])]


def test_the_readme_settings_table_lists_each_variable_once() -> None:
    listed = readme_settings_table()
    assert listed, "no PAPERFEED_ variable found in the README's settings table"
    assert [v for v, n in Counter(listed).items() if n > 1] == []


# -- commands --------------------------------------------------------------------------------------------


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    """Every command that does something (not a group), as its words after 'paperfeed'."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


COMMANDS = dict(commands(main))


def readme_commands() -> list[tuple[str, str]]:
    """(command words, the whole entry) for each entry of the README's command block."""
    entries: list[str] = []
    for line in fenced(section(README, "Command line")).splitlines():
        line = re.sub(r"\s#\s.*$", "", line).rstrip()  # comments may mention other commands and flags
        if line.startswith("paperfeed "):
            entries.append(line)
        elif line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
    found = []
    for entry in entries:
        words, group = [], main
        for word in entry.split()[1:]:
            if not isinstance(group, click.Group) or word not in group.commands:
                break
            words.append(word)
            group = group.commands[word]
        found.append((" ".join(words), entry))
    return found


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert command in [words for words, _ in readme_commands()], f"'paperfeed {command}' is not in the README"


def test_the_readme_lists_each_command_once_and_only_real_ones() -> None:
    listed = [words for words, _ in readme_commands()]
    assert [w for w, n in Counter(listed).items() if n > 1] == []
    assert [w for w in listed if w not in COMMANDS] == []  # a group alone, or a command that is gone


@pytest.mark.parametrize(("command", "entry"), readme_commands(), ids=[w for w, _ in readme_commands()])
def test_every_flag_the_readme_shows_exists(command: str, entry: str) -> None:
    options = {"--help"}
    for param in COMMANDS[command].params if command in COMMANDS else []:
        options.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    shown = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", entry))
    assert shown - options == set(), f"'paperfeed {command}' has no {sorted(shown - options)}"


# -- routes ----------------------------------------------------------------------------------------------


def _generic(text: str) -> str:
    return re.sub(r"\{[^}/]*\}", "{}", text)


DOCUMENTED_ROUTES = sorted({p for _, p, _, _ in ROUTES if p.startswith(("/api/", "/feed."))})


@pytest.mark.parametrize("path", DOCUMENTED_ROUTES)
def test_every_api_route_and_feed_is_documented(path: str) -> None:
    written = re.escape(_generic(path))
    pattern = rf"(?<![\w/.{{}}]){written}(?![\w/.{{}}-])"
    assert re.search(pattern, _generic(EVERYTHING)), f"{path} is in neither README.md nor docs/*.md"


# -- modules ---------------------------------------------------------------------------------------------


def layout() -> list[tuple[str, str]]:
    """(name, text) of each entry of the README's layout under ``paperfeed/``, continuation lines joined."""
    entries: list[tuple[str, str]] = []
    inside = False
    for line in fenced(section(README, "Layout")).splitlines():
        if line.rstrip() == "paperfeed/":
            inside = True
        elif inside and re.match(r"  \S", line):
            name, _, text = line.strip().partition(" ")
            entries.append((name, text.strip()))
        elif inside and line.startswith("    ") and entries:
            entries[-1] = (entries[-1][0], f"{entries[-1][1]} {line.strip()}")
        else:
            inside = False
    return entries


def items(text: str) -> list[tuple[str, str]]:
    """(module or folder name, the item's text) of a package entry: items split at ',' and ';' outside
    brackets, each starting with the name, perhaps after a label ('all SQL: db (…)')."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if ch in ",;" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    found = []
    for part in parts:
        part = re.sub(r"^[\w ]+:\s+", "", part.strip())
        match = re.match(r"[a-z_][a-z0-9_]*/?", part)
        if match:
            found.append((match.group(), part))
    return found


def modules_on_disk() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if path.name != "__init__.py" and relative.parts[-3:-1] != ("migrations", "versions"):
            found.append(relative.as_posix())
    return found


def named_in_layout(module: str) -> bool:
    entries = dict(layout())
    *folders, file = module.split("/")
    if not folders:
        return file in entries
    named = dict(items(entries.get(folders[0] + "/", "")))
    if len(folders) == 1:
        return file.removesuffix(".py") in named
    nested = named.get(folders[1] + "/", "")
    return re.search(rf"\b{re.escape(file.removesuffix('.py'))}\b", nested) is not None


def modules_in_layout() -> list[str]:
    """What the layout names: top-level modules, packages' modules and folders (ending in '/')."""
    named = []
    for name, text in layout():
        if name.endswith("/"):
            named += [f"{name}{item}" + ("" if item.endswith("/") else ".py") for item, _ in items(text)]
        else:
            named.append(name)
    return named


@pytest.mark.parametrize("module", modules_on_disk())
def test_every_module_is_in_the_readme_layout(module: str) -> None:
    assert named_in_layout(module), f"the README's layout does not name paperfeed/{module}"


@pytest.mark.parametrize("module", modules_in_layout())
def test_every_module_the_layout_names_exists(module: str) -> None:
    assert (PACKAGE / module).exists(), f"the README's layout names paperfeed/{module}, which does not exist"


def test_the_layout_lists_each_entry_once() -> None:
    assert layout(), "no entries found under paperfeed/ in the README's layout"
    assert [n for n, c in Counter(n for n, _ in layout()).items() if c > 1] == []
    assert [n for n, c in Counter(modules_in_layout()).items() if c > 1] == []


# -- the README's other lists ----------------------------------------------------------------------------


def test_what_is_inside_has_each_row_once() -> None:
    rows = re.findall(r"^\| \*\*(.+?)\*\* \|", section(README, "What is inside"), re.M)
    assert len(rows) >= 5, rows
    assert [r for r, n in Counter(rows).items() if n > 1] == []


# -- links between documents -----------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


LINKS = [
    (source, target)
    for source, text in [("README.md", README), *((f"docs/{n}", t) for n, t in DOCS.items())]
    for target in re.findall(r"\]\(([^)\s]+)\)", text)
    if not re.match(r"[a-z]+:", target)
]


@pytest.mark.parametrize(("source", "target"), LINKS)
def test_links_between_documents_resolve(source: str, target: str) -> None:
    file, _, anchor = target.partition("#")
    path = (ROOT / source).parent / file if file else ROOT / source
    assert path.exists(), f"{source} links to {target}: no such file"
    if anchor:
        headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
        assert anchor in [slug(h) for h in headings], f"{source} links to {target}: no such heading"


# -- benchmarks ------------------------------------------------------------------------------------------


def load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = load_report()
HELPERS = {"report", "paced"}  # modules the benches import, no benches themselves
BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem not in HELPERS)


@pytest.mark.parametrize("bench", BENCHES)
def test_every_bench_records_into_its_section(bench: str) -> None:
    start, end = report.markers(bench)
    page = DOCS["benchmarks.md"]
    assert page.count(start) == 1 and page.count(end) == 1, f"docs/benchmarks.md has no one {start} section"
    assert f'recorded("{bench}")' in (ROOT / "bench" / f"{bench}.py").read_text(encoding="utf-8")


PAGE = """# Benchmarks

## bench/a.py

<!-- bench:a -->
old a
<!-- /bench:a -->

text between

<!-- bench:b -->
old b
<!-- /bench:b -->
"""


def test_a_section_is_replaced_and_nothing_else() -> None:
    new = report.replace_section(PAGE, "a", "new a\nfigures")
    assert new == PAGE.replace("old a", "new a\nfigures")
    assert report.replace_section(new, "a", "old a") == PAGE


def test_a_missing_section_is_added_at_the_end() -> None:
    new = report.replace_section(PAGE, "c", "c's figures")
    assert new.startswith(PAGE.rstrip())
    assert new.endswith("## bench/c.py\n\n<!-- bench:c -->\nc's figures\n<!-- /bench:c -->\n")


@pytest.mark.parametrize(
    "broken", [PAGE.replace("<!-- /bench:a -->", ""), PAGE.replace("old b", "<!-- bench:a -->")]
)
def test_broken_markers_are_refused(broken: str) -> None:
    with pytest.raises(ValueError, match="bench:a"):
        report.replace_section(broken, "a", "x")


def test_a_finished_bench_writes_what_it_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(PAGE, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", [str(ROOT / "bench" / "b.py"), "--n", "2000"])
    with report.recorded("b", doc):
        print("papers: 2,000")
        print("ratio: 0.51   ")
    assert "papers: 2,000" in capsys.readouterr().out  # printing stays as it was
    page = doc.read_text(encoding="utf-8")
    body = page.split("<!-- bench:b -->\n")[1].split("\n<!-- /bench:b -->")[0]
    assert body.startswith(f"Measured {date.today().isoformat()} with `python bench/b.py --n 2000` (")
    assert body.endswith("```text\npapers: 2,000\nratio: 0.51\n```")
    assert "old a" in page and "old b" not in page


def test_a_failed_bench_writes_nothing(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(PAGE, encoding="utf-8")
    with pytest.raises(SystemExit), report.recorded("b", doc):
        print("half the figures")
        sys.exit("wrk is not installed")
    assert doc.read_text(encoding="utf-8") == PAGE
