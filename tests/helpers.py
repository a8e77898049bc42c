"""Small helpers shared by test modules."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from kq.extensions import db
from kq.models import Customer, Store, Task, User

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=10, minute=0):
    """An aware instant on a Shanghai calendar day."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def load(model, ident):
    return db.session.get(model, ident)


def items(day=None, kind=None, staff_id=None, customer_id=None):
    query = db.select(Task)
    if day is not None:
        query = query.where(Task.due_on == day)
    if kind is not None:
        query = query.where(Task.kind == kind)
    if staff_id is not None:
        query = query.where(Task.staff_id == staff_id)
    if customer_id is not None:
        query = query.where(Task.customer_id == customer_id)
    return db.session.scalars(query).all()


def kinds_for(customer_id, day):
    return sorted(t.kind for t in items(day=day, customer_id=customer_id))


__all__ = ["SHANGHAI", "at", "load", "items", "kinds_for", "Customer", "Store", "User"]


def sms_body(page, number):
    """The text Today's Message link for `number` is given by the page's script (app.js): the
    page's text for the item's kind (#sms-texts; or the one the link names, data-text), with
    the item's greeting name and the link's gift (data-gift) put in."""
    import html
    import json
    import re

    table = json.loads(re.search(r'<script type="application/json" id="sms-texts">(.*?)'
                                 r'</script>', page, re.S).group(1))
    item = next(i for i in re.findall(r'<li class="task .*?</li>', page, re.S)
                if f'href="sms:{number}"' in i)
    link = re.search(rf'<a href="sms:{number}"([^>]*)>', item).group(1)

    def attr(name):
        found = re.search(rf'{name}="([^"]*)"', link)
        return html.unescape(found.group(1)) if found else None

    values = {"greeting": html.unescape(re.search(r'class="task-name"[^>]*>([^<]*)<',
                                                  item).group(1)),
              "gift": attr("data-gift") or ""}
    parts = table[attr("data-text") or re.search(r'class="task kind-(\w+)', item).group(1)]
    return "".join(values[part] if i % 2 else part for i, part in enumerate(parts))
