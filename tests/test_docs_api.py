"""Every public name of rnnlab has an entry in the API reference (docs/api/*.md).

A module's public names are its ``__all__``.  A name counts as documented when a page has a
mkdocstrings directive ``::: rnnlab.mod.Name`` or lists it under ``members:`` of
``::: rnnlab.mod``.  Reads the Markdown only, so mkdocs need not be installed.
"""
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import rnnlab
from rnnlab import cli

API = Path(__file__).resolve().parents[1] / "docs" / "api"
DIRECTIVE = re.compile(r"^:::\s*(rnnlab[\w.]*)\s*$")
MEMBERS = re.compile(r"^(\s+)members:\s*$")
ITEM = re.compile(r"^\s+-\s*([A-Za-z_]\w*)\s*$")


def documented(pages) -> set[str]:
    """The dotted names the pages document: each directive, and directive + member."""
    names = set()
    for page in pages:
        current, in_members, indent = None, False, 0
        for line in page.read_text(encoding="utf-8").splitlines():
            if m := DIRECTIVE.match(line):
                current, in_members = m.group(1), False
                names.add(current)
            elif current and (m := MEMBERS.match(line)):
                in_members, indent = True, len(m.group(1))
            elif in_members and (m := ITEM.match(line)) and len(line) - len(line.lstrip()) > indent:
                names.add(f"{current}.{m.group(1)}")
            elif line.strip() and not line.startswith(" "):
                current, in_members = None, False          # the directive's options ended
            elif in_members and line.strip() and not ITEM.match(line):
                in_members = False
    return names


def public_modules():
    names = ["rnnlab"] + [m.name for m in pkgutil.walk_packages(rnnlab.__path__, "rnnlab.")]
    return [n for n in names if not any(part.startswith("_") for part in n.split("."))]


def public_names():
    out = []
    for name in public_modules():
        module = importlib.import_module(name)
        out += [f"{name}.{n}" for n in getattr(module, "__all__", ())]
    return out


def test_the_reader_finds_directives_and_members(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("# X\n\n::: rnnlab.a\n    options:\n      members:\n        - One\n"
                    "        - two\n\ntext\n        - Not\n::: rnnlab.b.C\n")
    assert documented([page]) == {"rnnlab.a", "rnnlab.a.One", "rnnlab.a.two", "rnnlab.b.C"}


def test_a_missing_entry_is_caught(tmp_path):
    """Dropping one member line from the real pages leaves exactly that name undocumented."""
    page = API / "layers.md"
    text = page.read_text(encoding="utf-8")
    assert "        - LSTM\n" in text
    copy = tmp_path / "layers.md"
    copy.write_text(text.replace("        - LSTM\n", "", 1), encoding="utf-8")
    others = [p for p in API.glob("*.md") if p.name != "layers.md"]
    before, after = documented(API.glob("*.md")), documented(others + [copy])
    assert before - after == {"rnnlab.layers.LSTM"}


@pytest.mark.parametrize("name", public_modules())
def test_every_name_in_all_is_in_the_reference(name):
    module = importlib.import_module(name)
    reference = documented(API.glob("*.md"))
    missing = [n for n in getattr(module, "__all__", ()) if f"{name}.{n}" not in reference]
    assert not missing, (f"{name}: {missing} are public (in __all__) but not in docs/api/*.md; "
                         f"list them under `members:` of `::: {name}`")


TOP_LEVEL = ["rnnlab." + m.name for m in pkgutil.iter_modules(rnnlab.__path__)
             if not m.name.startswith("_")]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_top_level_module_has_a_reference_entry(name):
    """Modules without ``__all__`` (losses, callbacks, ...) still get their own entry."""
    assert name in documented(API.glob("*.md")), f"add `::: {name}` to a page in docs/api/"


def test_every_cli_command_has_a_generated_page():
    """docs/cli/<command>.md renders each subcommand of the click group from the CLI itself."""
    pages = API.parent / "cli"
    for name in cli.main.commands:
        page = pages / f"{name}.md"
        assert page.exists(), f"add docs/cli/{name}.md (and to mkdocs.yml's nav)"
        text = page.read_text(encoding="utf-8")
        assert "::: mkdocs-click" in text and f":command: {name}\n" in text, page
        assert f"cli/{name}.md" in (API.parents[1] / "mkdocs.yml").read_text(encoding="utf-8")
