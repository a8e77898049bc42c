"""The demo salon and create-user."""
from datetime import timedelta

from kq.extensions import db
from kq.models import Customer, Store, User, Visit


def test_demo_loads_once_with_the_contracted_sign_ins(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kq", "demo", "--customers", "200"])
    assert result.exit_code == 0, result.output
    assert "demo1234" in result.output
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(db.select(User))}
        expected = {"owner", "manager", "manager2", "beautician7"} | {
            f"beautician{i}" for i in range(1, 7)}
        assert expected <= set(users)
        assert users["beautician7"].store_id == users["manager2"].store_id != users["owner"].store_id
        assert users["beautician1"].check_password("demo1234")
        main = db.session.get(Store, users["manager"].store_id)
        customers = db.session.scalars(db.select(Customer).where(Customer.store_id == main.id)).all()
        assert len(customers) == 200
        dormant = sum(1 for c in customers if c.status(main) == "dormant")
        assert 0.5 <= dormant / len(customers) <= 0.7
        today = main.today()
        birthdays = {(c.birth_month, c.birth_day) for c in customers}
        tomorrow = today + timedelta(days=1)
        assert (today.month, today.day) in birthdays and (tomorrow.month, tomorrow.day) in birthdays
        assert any(c.name == "梁小娟" for c in customers)
        # Bookkeeping agrees with the visits it summarises.
        sample = customers[0]
        visits = db.session.scalars(db.select(Visit).where(Visit.customer_id == sample.id)).all()
        assert sample.visit_count == len(visits)
        assert sample.last_visit_at == max(v.visited_at for v in visits)
    again = runner.invoke(args=["kq", "demo"])
    assert again.exit_code == 0 and "not loaded" in again.output


def test_create_user(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kq", "create-user", "--username", "Newbie", "--name", "新人",
                                 "--store", str(world.store1), "--password", "longenough"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "newbie"))
        assert user.check_password("longenough") and user.role == "beautician"
    taken = runner.invoke(args=["kq", "create-user", "--username", "newbie", "--name", "x",
                                "--store", str(world.store1), "--password", "longenough"])
    assert taken.exit_code != 0 and "taken" in taken.output


def test_bench_data_fills_consistent_bookkeeping(app):
    result = app.test_cli_runner().invoke(args=["kq", "bench-data", "--customers", "300",
                                                "--visits", "3000", "--staff", "3",
                                                "--stores", "2"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from sqlalchemy import func

        assert db.session.scalar(db.select(func.count(Customer.id))) == 600
        visits = db.session.scalar(db.select(func.count(Visit.id)))
        assert 2400 <= visits <= 3600
        # Each customer's denormalised numbers equal the visits inserted for her.
        rows = db.session.execute(
            db.select(Customer.id, Customer.visit_count, Customer.last_visit_at,
                      Customer.total_spent_fen, func.count(Visit.id), func.max(Visit.visited_at),
                      func.sum(Visit.amount_fen))
            .join(Visit, Visit.customer_id == Customer.id).group_by(Customer.id)).all()
        assert len(rows) == 600
        for _id, count, last, spent, n, latest, total in rows:
            assert (count, spent) == (n, total)
            assert last == (latest if latest.tzinfo else latest.replace(tzinfo=last.tzinfo))
        store = db.session.scalars(db.select(Store)).first()
        customers = db.session.scalars(db.select(Customer).where(Customer.store_id == store.id))
        statuses = [c.status(store) for c in customers]
        assert 0.5 <= statuses.count("dormant") / len(statuses) <= 0.7
