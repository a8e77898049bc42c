"""The app as gunicorn serves it in `make bench`, plus two comparison pages:
/bench/floor — the checklist's own indexed query, rows in a bare template (no layout, no
forms, no translations); /bench/hello — a hello-world Flask route."""
from flask import render_template_string
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import app
from kq.extensions import csrf, db
from kq.models import Store, Task, User

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
    items = db.session.scalars(
        select(Task).options(joinedload(Task.customer))
        .where(Task.store_id == store.id, Task.staff_id == user.id, Task.due_on == day)).all()
    return render_template_string(FLOOR, items=items)


csrf.exempt(bench_hello)
csrf.exempt(bench_floor)
