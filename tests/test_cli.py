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
