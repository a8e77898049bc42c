"""Pieces of HTML kept between requests, for the pages a beautician reloads all day.

`kept(key, macro, *args)` in a template returns the macro's HTML for that key, rendering it
only the first time. It is for pieces that are a pure function of their key: the key must
hold every value the piece shows (the language is added here), and a piece must not carry
anything per session, such as a CSRF token. Each process keeps its own, bounded: it is
cleared when full, so a change elsewhere never needs to reach it — a changed value is a new key.
"""
from jinja2 import pass_context

LIMIT = 5000
_kept = {}


@pass_context
def kept(context, key, macro, *args, **kwargs):
    """`macro` is the macro itself, or "template:name" for a macro the template need not
    import on every page: it is imported (as `{% from template import name %}` does) only
    when the piece is not kept yet."""
    key = (context.get("current_locale"), key)
    html = _kept.get(key)
    if html is None:
        if isinstance(macro, str):
            template, _colon, name = macro.partition(":")
            macro = getattr(context.environment.get_template(template).module, name)
        if len(_kept) >= LIMIT:
            _kept.clear()
        html = _kept[key] = macro(*args, **kwargs)
    return html

