"""Catalogues are complete, and browsers map onto our three languages."""
from pathlib import Path

from babel.messages.pofile import read_po

from kq.i18n import browser_locale

ROOT = Path(__file__).resolve().parent.parent


def test_every_string_is_translated_in_both_chinese_catalogues():
    for locale in ("zh_Hans", "zh_Hant"):
        with open(ROOT / "kq" / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
            catalog = read_po(f)
        missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
        assert missing == [], f"{locale}: {missing[:5]}"


def test_browser_languages_map_onto_catalogues(app):
    with app.test_request_context():
        assert browser_locale([("zh-CN", 1)]) == "zh_Hans"
        assert browser_locale([("zh-TW", 1)]) == "zh_Hant"
        assert browser_locale([("zh-Hant-HK", 1)]) == "zh_Hant"
        assert browser_locale([("en-GB", 1)]) == "en"
        assert browser_locale([("fr", 1), ("en", 0.5)]) == "en"
        assert browser_locale([("fr", 1)]) == "zh_Hans"
