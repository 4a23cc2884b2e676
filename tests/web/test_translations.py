"""The catalogs customers read: every text has its Spanish, the compiled .mo the app loads says what the .po
says, and the .po holds every text the templates ask for."""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "templates" / "translations"
SPANISH = CATALOGS / "es" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def po():
    with open(SPANISH / "messages.po", "rb") as f:
        return read_po(f, locale="es")


def entries(catalog) -> dict:
    """msgid → msgstr; plural ones as tuples (read_mo gives lists)."""
    def plain(x):
        return tuple(x) if isinstance(x, list | tuple) else x
    return {plain(m.id): plain(m.string) for m in catalog if m.id}


def test_every_text_has_its_spanish_with_the_same_placeholders():
    catalog = po()
    assert len(entries(catalog)) > 50
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(s and s.strip() for s in strings), f"no Spanish for {m.id!r}"
        assert "fuzzy" not in m.flags, f"{m.id!r} is marked fuzzy: check its Spanish and remove the mark"
        for s in strings:
            assert sorted(PLACEHOLDER.findall(s)) == sorted(PLACEHOLDER.findall(ids[-1])), (m.id, s)


def test_the_compiled_catalog_is_the_po_compiled_again():
    """Fails when the .po was edited and `pybabel compile -d templates/translations` not run."""
    compiled = io.BytesIO()
    write_mo(compiled, po())
    compiled.seek(0)
    with open(SPANISH / "messages.mo", "rb") as f:
        committed = read_mo(f)
    assert entries(committed) == entries(read_mo(compiled))


def test_the_catalog_holds_every_text_the_templates_and_code_ask_for():
    """Fails when a page gains a text and `pybabel extract` / `pybabel update` (see babel.cfg) were not run."""
    with open(ROOT / "babel.cfg") as f:
        method_map, _options = parse_mapping_cfg(f)  # the files `pybabel extract -F babel.cfg` reads
    asked = {msgid if isinstance(msgid, str) else msgid[0]
             for _file, _line, msgid, _comments, _context in extract_from_dir(str(ROOT), method_map)
             if "/tests/" not in _file}
    known = {k if isinstance(k, str) else k[0] for k in entries(po())}
    assert asked - known == set()
    assert known - asked == set(), "texts no page uses any more: run pybabel update"
