"""Language and timezone choice per user, and helpers every template can use."""
from flask import current_app, request, session, url_for
from flask_babel import format_date, get_locale, get_translations

LANGUAGE_NAMES = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}
HTML_LANG = {"zh_Hans": "zh-Hans", "zh_Hant": "zh-Hant", "en": "en"}


def browser_locale(accept_languages):
    """Map Accept-Language to our three catalogues: zh-TW/HK/MO/Hant are Traditional."""
    for tag, _quality in accept_languages:
        tag = tag.lower().replace("_", "-")
        if tag.startswith("zh"):
            traditional = any(part in ("hant", "tw", "hk", "mo") for part in tag.split("-"))
            return "zh_Hant" if traditional else "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_locale():
    from kq.scoping import signed_in

    languages = current_app.config["LANGUAGES"]
    user = signed_in()  # one look-up of current_user, not three
    if user is not None and user.locale in languages:
        return user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return browser_locale(request.accept_languages)


def select_timezone():
    from kq.scoping import current_store, signed_in

    user = signed_in()
    store = current_store(user) if user is not None else None
    return store.timezone if store else None


def memo_gettext():
    """gettext for a page that asks for the same few texts many times: each is looked up in
    the catalogue once. Same results as flask_babel.gettext (the text, then % variables)."""
    translations = get_translations()
    cache = {}

    def gettext(msgid, **variables):
        text = cache.get(msgid)
        if text is None:
            text = cache[msgid] = translations.ugettext(msgid)
        return text % variables if variables else text

    return gettext


def fen(amount_fen):
    """Money for display: 3000 fen → ¥30, 12345 → ¥123.45."""
    if amount_fen is None:
        return ""
    sign = "-" if amount_fen < 0 else ""
    yuan, cents = divmod(abs(int(amount_fen)), 100)
    return f"{sign}¥{yuan:,}" + (f".{cents:02d}" if cents else "")


def template_helpers():
    from kq.scoping import current_store, signed_in

    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    user = signed_in()
    store = current_store(user) if user is not None else None
    return {
        "html_lang": HTML_LANG.get(locale, "zh-Hans"),
        "current_locale": locale,
        "language_names": LANGUAGE_NAMES,
        "current_store": store,
        "fen": fen,
        "format_date": format_date,
    }


# The page above this one, for the header's back control (base.html). Installed on a phone
# (display: standalone) there is no browser back, so every page below a tab says where "‹"
# goes: a card's own pages to the card, a few pages to their list, the rest to their tab's
# root. A tab's root, sign-in and the offline page have none. Pages override the block
# back_url in base.html (the card: the list she opened it from).
NO_PARENT = frozenset({"tasks.today", "customers.index", "calls.index", "manager.index",
                       "core.more", "core.offline", "auth.login"})
TAB_ROOTS = {"tasks": "tasks.today", "customers": "customers.index", "calls": "calls.index",
             "gifts": "gifts.index", "manager": "manager.index", "reports": "manager.index",
             "core": "core.more", "auth": "core.more"}
LIST_OF = {"gifts.index": "core.more", "reports.show": "reports.index",
           "manager.staff_new": "manager.staff", "manager.staff_edit": "manager.staff",
           "manager.import_show": "manager.import_index"}


def parent_url():
    """The URL of the page above this one, or "" (a template global: a function, where a
    macro imported with context cost a module made afresh on every page)."""
    from kq.scoping import signed_in

    endpoint = request.endpoint or ""
    if endpoint in NO_PARENT or signed_in() is None:
        return ""
    customer_id = (request.view_args or {}).get("customer_id")
    asked = request.args.get("customer_id", "")
    if customer_id and endpoint != "customers.detail":
        return url_for("customers.detail", customer_id=customer_id)
    if endpoint == "calls.log" and asked.isdigit() and len(asked) < 10:
        return url_for("customers.detail", customer_id=_as_int(asked))
    if endpoint in LIST_OF:
        return url_for(LIST_OF[endpoint])
    section = endpoint.split(".")[0]
    if section in TAB_ROOTS:
        return url_for(TAB_ROOTS[section])
    return ""


def _as_int(text):
    """Jinja's int filter: the number, else 0 (a digit str.isdigit knows and int does not)."""
    try:
        return int(text)
    except ValueError:
        try:
            return int(float(text))
        except (ValueError, OverflowError):
            return 0
