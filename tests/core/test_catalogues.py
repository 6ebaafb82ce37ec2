"""The gettext catalogues: complete in French, compiled as committed, and covering every text the
templates and the code mark for translation; no template keeps text outside them.

Everything here reads files with Python alone (polib, the stdlib's ast and Django's own template
lexer): the check runs where GNU gettext is not installed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
APPS = ["core", "audit", "providers", "consent", "gateway"]
LANGUAGES = [code for code, _name in settings.LANGUAGES]
TEMPLATES = sorted(path for app in APPS for path in (ROOT / app / "templates").rglob("*.html"))
PYTHON = sorted(path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts)
GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}

Key = tuple[str, str]  # (context, msgid)


def po_path(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / "django.po"


def messages(entries: list[polib.POEntry] | list[polib.MOEntry]) -> dict[Key, tuple[str, ...]]:
    """Each message's translations (one per plural form), empty when it is not translated."""
    return {
        (entry.msgctxt or "", entry.msgid): (
            tuple(entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural))
            if entry.msgid_plural
            else (entry.msgstr,)
        )
        for entry in entries
        if entry.msgid and not entry.obsolete and "fuzzy" not in entry.flags
    }


def translations(entries: list[polib.POEntry] | list[polib.MOEntry]) -> dict[Key, tuple[str, ...]]:
    """What a compiled catalogue holds: the translated messages (an empty one falls back to its id)."""
    return {key: forms for key, forms in messages(entries).items() if all(forms)}


def _literal(source: str) -> str:
    value = ast.literal_eval(source)
    assert isinstance(value, str)
    return value


def template_keys(path: Path) -> set[Key]:
    """Django's own makemessages step (templatize) turns a template into gettext calls."""
    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    string = r"""u?('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    keys = {("", _literal(match)) for match in re.findall(rf"\bgettext\({string}\)", code)}
    keys |= {(_literal(c), _literal(m)) for c, m in re.findall(rf"\bpgettext\({string},\s*{string}\)", code)}
    keys |= {("", _literal(m)) for m, _plural in re.findall(rf"\bngettext\({string},\s*{string}", code)}
    keys |= {
        (_literal(c), _literal(m))
        for c, m, _plural in re.findall(rf"\bnpgettext\({string},\s*{string},\s*{string}", code)
    }
    return keys


def python_keys(path: Path) -> set[Key]:
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT_CALLS):
            continue
        strings = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        if node.func.id.startswith("pgettext") and len(strings) >= 2:
            keys.add((strings[0], strings[1]))
        elif strings:
            keys.add(("", strings[0]))
    return keys


def visible_text(path: Path) -> str:
    """The text a template shows outside any translation tag: without comments, tags, variables
    and HTML markup."""
    source = path.read_text(encoding="utf-8")
    source = re.sub(r"{% comment %}.*?{% endcomment %}", " ", source, flags=re.S)
    source = re.sub(r"{% (block)?translate .*?{% end(block)?translate %}", " ", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", source, flags=re.S)
    source = re.sub(r"<(pre|code)\b.*?</\1>", " ", source, flags=re.S)
    return re.sub(r"<[^>]*>", " ", source)


class TestCatalogues:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_the_committed_mo_is_the_compiled_po(self, language: str) -> None:
        po = polib.pofile(str(po_path(language)))
        mo = polib.mofile(str(po_path(language).with_suffix(".mo")))

        assert translations(mo) == translations(po), f"run `make messages` and commit the .mo ({language})"

    def test_every_french_message_is_translated(self) -> None:
        po = polib.pofile(str(po_path("fr")))

        assert [entry.msgid for entry in po.untranslated_entries()] == []
        assert [entry.msgid for entry in po.fuzzy_entries()] == []
        assert len(po.translated_entries()) > 100

    def test_every_text_marked_for_translation_is_in_the_french_catalogue(self) -> None:
        catalogue = messages(polib.pofile(str(po_path("fr"))))
        used = {key for path in TEMPLATES for key in template_keys(path)}
        used |= {key for path in PYTHON for key in python_keys(path)}

        missing = sorted(used - catalogue.keys())

        assert len(used) > 100
        assert missing == [], "run `make messages` and translate the new texts"

    @pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
    def test_no_template_keeps_french_text_outside_gettext(self, path: Path) -> None:
        source = path.read_text(encoding="utf-8")
        french = re.findall(r"[^\W\d_]*[àâçéèêëîïôûùüÿœ][^\W\d_]*", visible_text(path), flags=re.I)

        assert "{% load bilingual" not in source
        assert re.search(r"{%\s*tr\s", source) is None
        assert french == []


class TestEnglishCatalogue:
    def test_it_has_the_same_messages_as_the_french_one(self) -> None:
        english = messages(polib.pofile(str(po_path("en"))))
        french = messages(polib.pofile(str(po_path("fr"))))

        assert english.keys() == french.keys()
