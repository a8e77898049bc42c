"""The app as gunicorn serves it in `make bench`, plus two comparison pages:
/bench/floor — the checklist's own queries (the counts and the first page of items), rows in a
bare template (no layout, no forms, no translations); /bench/hello — a hello-world route;
/bench/pinyin — whether this worker loaded the pinyin dictionary."""
from flask import current_app
from sqlalchemy import select

from app import app
from kq.blueprints.tasks.routes import list_page, list_params, list_summary
from kq.extensions import csrf, db
from kq.models import Store, User

FLOOR = """<!doctype html><title>floor</title><ul>{% for t in items %}<li>{{ t.greeting_name }}
 {{ t.kind }} {{ t.due_on }}</li>{% endfor %}</ul>"""


_floor = None


@app.route("/bench/hello")
def bench_hello():
    return "hello"


@app.route("/bench/floor/<username>")
def bench_floor(username):
    user = db.session.scalar(select(User).where(User.username == username))
    store = db.session.get(Store, user.store_id)
    day = store.today()
    params = list_params(store, user.id, day, day)
    list_summary(params)
    items = list_page(params)
    global _floor
    if _floor is None:  # compiled once, as render_template's templates are
        _floor = current_app.jinja_env.from_string(FLOOR)
    return _floor.render(items=items)


@app.route("/bench/pinyin")
def bench_pinyin():
    """Whether this worker has loaded the pinyin dictionary (only writing customers needs it)."""
    import sys

    return "loaded" if "pypinyin" in sys.modules else "not loaded"


csrf.exempt(bench_hello)
csrf.exempt(bench_pinyin)
csrf.exempt(bench_floor)
