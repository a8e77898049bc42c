"""Store isolation, roles, and phone masking."""

from kq.extensions import db
from kq.models import Customer


def test_beautician_cannot_open_another_stores_customer(login, world):
    client = login("beautician1")
    assert client.get(f"/customers/{world.customers['mine']}").status_code == 200
    assert client.get(f"/customers/{world.customers['other_store']}").status_code == 404
    listing = client.get("/customers/").get_data(as_text=True)
    assert "梁小娟" in listing and "赵敏" not in listing


def test_manager_of_store_two_sees_nothing_of_store_one(login, world):
    client = login("manager2")
    assert client.get(f"/customers/{world.customers['mine']}").status_code == 404
    page = client.get("/manager/").get_data(as_text=True)
    assert "beautician1" not in page


def test_beautician_gets_403_on_manager_and_reports(login, world):
    client = login("beautician1")
    for path in ("/manager/", "/reports/"):
        assert client.get(path).status_code == 403, path


def test_owner_switches_store_and_staff_cannot(app, login, world):
    owner = login("owner")
    assert owner.get(f"/customers/{world.customers['other_store']}").status_code == 404
    assert owner.post("/store", data={"store_id": world.store2}).status_code == 302
    assert owner.get(f"/customers/{world.customers['other_store']}").status_code == 200
    assert owner.get(f"/customers/{world.customers['mine']}").status_code == 404
    manager = login("manager")
    assert manager.post("/store", data={"store_id": world.store2}).status_code == 403


def test_phone_masked_except_for_assigned_staff_and_managers(login, world):
    mine = f"/customers/{world.customers['mine']}"
    colleague = f"/customers/{world.customers['colleague']}"
    beautician = login("beautician1")
    assert "13812345678" in beautician.get(mine).get_data(as_text=True)
    page = beautician.get(colleague).get_data(as_text=True)
    assert "13900001111" not in page and "139****1111" in page
    assert f"/customers/{world.customers['colleague']}/reveal" not in page
    assert beautician.post(f"{colleague}/reveal").status_code == 403


def test_manager_reveals_a_number_and_the_reveal_is_audited(app, login, world):
    from kq.models import AuditEvent

    colleague = f"/customers/{world.customers['colleague']}"
    manager = login("manager")
    page = manager.get(colleague).get_data(as_text=True)
    assert "139****1111" in page and f"{colleague}/reveal" in page
    assert manager.post(f"{colleague}/reveal").status_code == 302
    assert "13900001111" in manager.get(colleague).get_data(as_text=True)
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "reveal_phone")).all()
        assert [(e.action, e.target_id, e.user_id) for e in events] == [
            ("reveal_phone", world.customers["colleague"], world.users["manager"])]
    # Another store's card cannot be revealed at all.
    assert login("manager2").post(f"{colleague}/reveal").status_code == 404


def test_output_is_escaped(app, login, world):
    with app.app_context():
        db.session.get(Customer, world.customers["mine"]).greeting_name = "<script>x</script>"
        db.session.commit()
    page = login("beautician1").get(f"/customers/{world.customers['mine']}").get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_card_offers_call_message_log_only_to_who_may_contact(login, world):
    mine = f"/customers/{world.customers['mine']}"
    page = login("beautician1").get(mine).get_data(as_text=True)
    assert 'href="tel:13812345678"' in page and "sms:13812345678?&amp;body=" in page
    assert f"/calls/log?customer_id={world.customers['mine']}" in page
    colleague = login("beautician2").get(mine).get_data(as_text=True)
    assert "tel:" not in colleague and "/calls/log" not in colleague
