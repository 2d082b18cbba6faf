"""The console's message catalogs (gettext ``.po``, one per language), served as JSON.

The catalogs live in ``web/locale/<lang>/LC_MESSAGES/console.po``; the template they are made
from, ``web/locale/console.pot``, is extracted by babel from the console's JavaScript (calls
``t("...")``) and from ``web/templates.py`` (``N_("...")``). The node reads the ``.po`` files
when a page asks for them, so nothing has to be compiled to run the console; ``pybabel
compile`` still works on them (and a test checks that it does).

Maintenance (from the repository root; ``python -m hotline.web.i18n`` runs the first two)::

    cd src/hotline/web && pybabel extract -F babel.cfg -k t -k N_ --no-default-keywords \\
        --add-location=file --sort-output -o locale/console.pot . && cd -
    pybabel update -D console -i src/hotline/web/locale/console.pot -d src/hotline/web/locale -w 100
    pybabel compile -D console -d src/hotline/web/locale --statistics   # optional check
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

WEB_DIR = Path(__file__).parent
LOCALE_DIR = WEB_DIR / "locale"
DOMAIN = "console"
POT_FILE = LOCALE_DIR / f"{DOMAIN}.pot"
BABEL_CFG = WEB_DIR / "babel.cfg"

#: Languages of the console, the source language first.
LANGUAGES: tuple[str, ...] = ("en", "ja", "ko")
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


class UnknownLanguage(LookupError):
    """A catalog was asked for in a language the console does not have."""


@dataclass(frozen=True, slots=True)
class _Cached:
    mtime_ns: int
    messages: dict[str, str]


_cache: dict[str, _Cached] = {}


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_catalog(lang: str) -> Catalog:
    """The parsed ``.po`` catalog of ``lang``; UnknownLanguage if the console has none."""
    if lang not in LANGUAGES:
        raise UnknownLanguage(f"language '{lang}' is not one of {', '.join(LANGUAGES)}")
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def messages(lang: str) -> dict[str, str]:
    """``{msgid: translation}`` for ``lang``: untranslated and fuzzy entries are left out, so
    the page falls back to the English source string. Re-read when the file changes."""
    if lang not in LANGUAGES:
        raise UnknownLanguage(f"language '{lang}' is not one of {', '.join(LANGUAGES)}")
    mtime = po_path(lang).stat().st_mtime_ns
    cached = _cache.get(lang)
    if cached is None or cached.mtime_ns != mtime:
        out: dict[str, str] = {}
        for entry in load_catalog(lang):
            if not entry.id or entry.fuzzy or not isinstance(entry.id, str):
                continue
            if isinstance(entry.string, str) and entry.string:
                out[entry.id] = entry.string
        cached = _Cached(mtime, out)
        _cache[lang] = cached
    return cached.messages


def translate(lang: str, message: str) -> str:
    return messages(lang).get(message, message)


def extract_and_update() -> None:
    """Re-extract ``console.pot`` from the sources and merge it into every ``.po``."""
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run(
        [
            *pybabel,
            "extract",
            "-F",
            BABEL_CFG.name,
            "-k",
            "t",
            "-k",
            "N_",
            "--no-default-keywords",
            "--add-location=file",
            "--sort-output",
            "--project=hotline",
            "--version=1",
            "--copyright-holder=the hotline authors",
            "--header-comment=# Strings of the hotline operations console (hotline.web.i18n).",
            "-c",
            "TRANSLATORS:",
            "-o",
            str(POT_FILE.relative_to(WEB_DIR)),
            ".",
        ],
        check=True,
        cwd=WEB_DIR,
    )
    for lang in LANGUAGES:
        cmd = "update" if po_path(lang).exists() else "init"
        subprocess.run(
            [
                *pybabel,
                cmd,
                "-D",
                DOMAIN,
                "-i",
                str(POT_FILE),
                "-d",
                str(LOCALE_DIR),
                "-l",
                lang,
                # The .po files are wrapped at 100 columns (the .pot at babel's default).
                "--width=100",
                *(["--no-fuzzy-matching", "--ignore-obsolete"] if cmd == "update" else []),
            ],
            check=True,
        )


if __name__ == "__main__":
    extract_and_update()
