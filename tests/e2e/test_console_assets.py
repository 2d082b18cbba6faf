"""The console's files, catalogs and templates, without a browser: served by the node with a
strict Content-Security-Policy, every string translated into en, ja and ko, catalogs that
``pybabel`` extracts and compiles, vendored libraries with their licences."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from hotline.web import i18n
from hotline.web.console import STATIC_DIR
from hotline.web.templates import TEMPLATES, render, templates_view
from tests.support import Cluster

JS_DIR = STATIC_DIR / "js"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: ``t("...")`` and ``N_("...")`` with a literal, the only forms the extractor understands.
MARKED = re.compile(r"""\b(?:t|N_)\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def pot_ids() -> set[str]:
    with i18n.POT_FILE.open("rb") as f:
        return {m.id for m in read_po(f) if m.id and isinstance(m.id, str)}


def strip_comments(js: str) -> str:
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", js)


def test_every_marked_string_of_the_page_is_in_the_template() -> None:
    ids = pot_ids()
    marked: set[str] = set()
    for path in JS_DIR.rglob("*.js"):
        for m in MARKED.finditer(strip_comments(path.read_text())):
            marked.add((m.group(1) or m.group(2) or "").replace('\\"', '"').replace("\\'", "'"))
    assert marked, "no t() calls found?"
    assert not marked - ids, f"run `python -m hotline.web.i18n`: {sorted(marked - ids)}"


def test_no_translated_string_is_built_inside_a_template_literal() -> None:
    """babel's JavaScript lexer does not see t() inside `${...}`: such strings never translate."""
    for path in JS_DIR.rglob("*.js"):
        for literal in re.findall(r"`[^`]*`", strip_comments(path.read_text()), flags=re.S):
            assert not re.search(r"\$\{[^}]*\bt\(\s*[\"']", literal), f"{path.name}: {literal}"


def test_the_template_matches_a_fresh_extraction(tmp_path: Path) -> None:
    out = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "t",
            "-k",
            "N_",
            "--no-default-keywords",
            "-o",
            str(out),
            ".",
        ],
        check=True,
        cwd=i18n.WEB_DIR,
    )
    with out.open("rb") as f:
        fresh = {m.id for m in read_po(f) if m.id}
    assert fresh == pot_ids(), "console.pot is stale: run `python -m hotline.web.i18n`"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_string_is_translated_with_the_same_placeholders(lang: str) -> None:
    catalog = i18n.load_catalog(lang)
    assert {m.id for m in catalog if m.id} == pot_ids(), f"{lang}: run pybabel update"
    for m in catalog:
        if not m.id:
            continue
        assert isinstance(m.id, str) and isinstance(m.string, str)
        assert m.string, f"{lang}: '{m.id}' is not translated"
        assert not m.fuzzy, f"{lang}: '{m.id}' is fuzzy"
        assert set(PLACEHOLDER.findall(m.string)) == set(PLACEHOLDER.findall(m.id)), (
            f"{lang}: placeholders of '{m.id}' differ in '{m.string}'"
        )
    if lang != i18n.SOURCE_LANGUAGE:
        translated = i18n.messages(lang)
        same = [k for k, v in translated.items() if k == v and not PLACEHOLDER.fullmatch(k)]
        assert len(same) < 3, f"{lang}: left in English? {same}"


@pytest.mark.parametrize("lang", ["ja", "ko"])
def test_catalogs_compile_with_babel(lang: str) -> None:
    """What ``pybabel compile`` makes of the catalog gives the same translations."""
    catalog = i18n.load_catalog(lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    compiled = read_mo(buf)
    assert len([m for m in compiled if m.id]) == len(pot_ids())
    buf.seek(0)
    translations = Translations(buf, domain=i18n.DOMAIN)
    assert translations.gettext("Acknowledge") == i18n.translate(lang, "Acknowledge")
    assert translations.gettext("Acknowledge") != "Acknowledge"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(i18n.UnknownLanguage):
        i18n.messages("fr")


def test_templates_render_in_every_language() -> None:
    assert {t.id for t in TEMPLATES} == {
        "launch_detected",
        "consultation_requested",
        "acknowledge_receipt",
        "link_test",
    }
    for view in templates_view():
        assert set(view["text"]) == set(i18n.LANGUAGES) == set(view["name"])
        fields = {f["name"] for f in view["fields"]}
        for lang, text in view["text"].items():
            assert set(PLACEHOLDER.findall(text)) == fields, (view["id"], lang)
            if lang != "en":
                assert text != view["text"]["en"], (view["id"], lang)
        for field in view["fields"]:
            assert set(field["label"]) == set(i18n.LANGUAGES)
    body = render("acknowledge_receipt", {"ref": "usa-123"})
    lines = body.split("\n")
    assert [line[:5] for line in lines] == ["[en] ", "[ja] ", "[ko] "]
    assert all("usa-123" in line for line in lines)


def test_vendored_libraries_carry_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    for lib, files in {
        "leaflet": ["leaflet.js", "leaflet.css", "images/layers.png"],
        "world-atlas": ["countries-50m.json", "countries-110m.json"],
        "topojson-client": ["topojson-client.min.js"],
    }.items():
        licence = (vendor / lib / "LICENSE").read_text()
        assert "Copyright" in licence or "ISC" in licence, lib
        for name in files:
            assert (vendor / lib / name).stat().st_size > 0, f"{lib}/{name}"
    versions = (vendor / "VERSIONS.txt").read_text()
    for pin in ("leaflet 1.9.4", "world-atlas 2.0.2", "topojson-client 3.1.0"):
        assert pin in versions


def test_own_files_name_no_other_host() -> None:
    """The page's own code points at nothing but its node (vendored code is checked in the
    browser test, which records every request)."""
    for path in [STATIC_DIR / "index.html", *JS_DIR.rglob("*.js"), *STATIC_DIR.glob("css/*")]:
        text = strip_comments(path.read_text())
        assert not re.search(r"(https?:|wss?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), path.name


@pytest.mark.anyio
async def test_node_serves_the_console(cluster: Cluster) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=cluster["USA"].url) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        assert '<script type="module" src="/console/static/js/app.js">' in page.text
        js = await client.get("/console/static/js/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        ja = (await client.get("/console/i18n/ja.json")).json()
        assert ja["lang"] == "ja" and ja["messages"]["Receipts"] == "受信状況"
        missing = await client.get("/console/i18n/fr.json")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "unknown_language"
        templates = (await client.get("/console/templates.json")).json()
        assert templates[0]["id"] == "launch_detected"
        leaflet = await client.get("/console/static/vendor/leaflet/leaflet.js")
        assert leaflet.status_code == 200
        escape = await client.get("/console/static/../console.py")
        assert escape.status_code == 404
