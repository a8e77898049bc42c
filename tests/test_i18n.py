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


def _catalog(locale):
    with open(ROOT / "kq" / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string}


# OpenCC's Taiwan conversion (s2twp) reads some of a salon's words as computer terms.
MANGLED = {"專案": "项目 is a service item", "型別": "类型 is a kind of person",
           "微訊號": "微信号 is a WeChat ID", "賬號": "帳號 in Taiwan", "天后": "N 天後",
           "後臺": "後台", "單元格": "儲存格", "退出登入": "登出", "“": "「", "”": "」"}


def test_traditional_chinese_reads_as_a_taiwan_or_hong_kong_reader_writes_it():
    """Issue 15 finding 10: "win-back offers" read 啟用方案 (switch-on plans) in zh-Hant; 激活
    here is winning a dormant customer back (喚回). 啟用 stays only where Simplified says 启用
    (switching an account on)."""
    hans, hant = _catalog("zh_Hans"), _catalog("zh_Hant")
    assert hant["Win-back offers"] == "喚回方案"
    assert hant["Win her back"] == "喚回她"
    assert hant["Open the account again"] == "重新啟用帳號"
    assert [m for m, s in hant.items() if "啟用" in s and "启用" not in hans.get(m, "")] == []
    for wrong, why in MANGLED.items():
        assert [s for s in hant.values() if wrong in s] == [], why
    assert hans["Complaint: the next step is due — %(step)s"] % {"step": "分析"} == \
        "投诉的下一步“分析”已到期"
    assert hans["Visit history"] == "到店记录" and hans["Visits"] == "到店次数"


def test_fill_derives_traditional_chinese_with_the_overrides_every_time():
    """tools/i18n.py fill derives zh_Hant from zh_Hans on every run: the corrections live in
    tools/zh_hant_overrides.json, not in hand edits that the next run would undo."""
    import pytest

    pytest.importorskip("opencc")
    from tools.i18n import traditional

    to_hant = traditional()
    assert to_hant("激活方案") == "喚回方案"
    assert to_hant("重新启用账号") == "重新啟用帳號"
    assert to_hant("请填写服务项目。") == "請填寫服務項目。"
    assert to_hant("短信里门店的称呼，例如“丽颜”。") == "簡訊裡門店的稱呼，例如「麗顏」。"
    assert to_hant("离店 30 天后唤回") == "離店 30 天後喚回"
    hans, hant = _catalog("zh_Hans"), _catalog("zh_Hant")
    stale = {m: (s, to_hant(hans[m])) for m, s in hant.items()
             if m in hans and s != to_hant(hans[m])}
    assert stale == {}, "run tools/i18n.py fill"
