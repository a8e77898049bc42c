"""The app as gunicorn serves it in `make bench`, plus two comparison pages:
/bench/floor — the checklist's own queries (the counts and the first page of items), rows in a
bare template (no layout, no forms, no translations); /bench/hello — a hello-world route."""
from flask import render_template_string
from sqlalchemy import select

from app import app
from kq.blueprints.tasks.routes import PAGE_SIZE, _on_list, _ordered, _summary
from kq.extensions import csrf, db
from kq.models import Store, User

FLOOR = """<!doctype html><title>floor</title><ul>{% for t in items %}<li>{{ t.customer.greeting_name }}
 {{ t.kind }} {{ t.due_on }}</li>{% endfor %}</ul>"""


@app.route("/bench/hello")
def bench_hello():
    return "hello"


@app.route("/bench/floor/<username>")
def bench_floor(username):
    user = db.session.scalar(select(User).where(User.username == username))
    store = db.session.get(Store, user.store_id)
    day = store.today()
    where = _on_list(store, user.id, day, day)
    _summary(where, day)
    items = db.session.scalars(_ordered(where, day).limit(PAGE_SIZE)).all()
    return render_template_string(FLOOR, items=items)


csrf.exempt(bench_hello)
csrf.exempt(bench_floor)
