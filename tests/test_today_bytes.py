"""Today's bytes (issue 19): what is the same for every item is on the page once, not in each
item. The Message link names only the number (it opens the SMS app without any script); the
text of each kind is once on the page (#sms-texts), and the page's script fills in the
customer's greeting name and gift (tests/helpers.sms_body does what it does). Log without a
script opens the full form through a short link. The behaviour stays: the same text as before,
the store's own text, a campaign's script, a gift's name."""
import json
import re
from datetime import timedelta

from kq.extensions import db
from kq.models import Gift, GiftHandout, MessageTemplate, Store, Task, User
from kq.scripts import DEFAULTS, message_for
from kq.services.assignments import assign
from kq.services.checklist import generate_day
from tests.factories import CustomerFactory
from tests.helpers import at, load, sms_body

TODAY = "/tasks/today"


def _dormant(store, staff, name, phone, days=40):
    customer = CustomerFactory(store_id=store.id, greeting_name=name, phone=phone,
                               last_visit_at=at(store.today() - timedelta(days=days)))
    assign(customer, staff, at=at(store.today() - timedelta(days=300)), commit=False)
    return customer


def _items(page):
    return re.findall(r'<li class="task .*?</li>', page, re.S)


def test_the_message_text_is_on_the_page_once_and_each_link_gets_its_own(app, world, login):
    with app.app_context():
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        for i in range(3):
            _dormant(store, staff, f"沉睡{i}小姐", f"+861381234000{i}")
        db.session.commit()
        expected = {i: message_for(DEFAULTS["red_flag"], type("C", (), {
            "greeting_name": f"沉睡{i}小姐"}), staff, store, store.today())
            for i in range(3)}
    page = login("beautician1").get(TODAY).get_data(as_text=True)
    for i in range(3):
        # the link without a script: the number only
        assert f'href="sms:1381234000{i}"' in page
        assert sms_body(page, f"1381234000{i}") == expected[i]
    # the text of the kind once on the page, not in any item
    assert page.count("这周给您留了护理时间") == 1
    assert not any("body=" in item or "这周给您" in item for item in _items(page))
    # the number is still called with one tap
    assert 'href="tel:13812340000"' in page


def test_the_stores_own_text_a_campaign_script_and_a_gift(app, world, login):
    with app.app_context():
        store = load(Store, world.store1)
        staff = load(User, world.users["beautician1"])
        _dormant(store, staff, "沉睡甲", "+8613812340001")
        scripted = _dormant(store, staff, "沉睡乙", "+8613812340002", days=41)
        gifted = CustomerFactory(store_id=store.id, greeting_name="礼品丙",
                                 phone="+8613812340003",
                                 last_visit_at=at(store.today() - timedelta(days=3)),
                                 last_contact_at=at(store.today() - timedelta(days=3)))
        assign(gifted, staff, at=at(store.today() - timedelta(days=300)), commit=False)
        gift = Gift(store_id=store.id, name="面膜 & 礼盒", quantity=3)
        db.session.add(gift)
        db.session.flush()
        db.session.add(GiftHandout(store_id=store.id, gift_id=gift.id, customer_id=gifted.id,
                                   staff_id=staff.id, pickup_after=store.today()))
        db.session.add(MessageTemplate(store_id=store.id, kind="red_flag", channel="sms",
                                       body="{greeting}，店里想您了。—{staff}"))
        db.session.commit()
        generate_day(store, store.today())
        task = db.session.scalar(db.select(Task).where(Task.customer_id == scripted.id))
        task.detail = {**task.detail, "script": "{greeting}您好，{store}周末有活动。—{staff}"}
        db.session.commit()
        name, signature = staff.display_name, store.name
    page = login("beautician1").get(TODAY).get_data(as_text=True)
    assert sms_body(page, "13812340001") == f"沉睡甲，店里想您了。—{name}"
    assert sms_body(page, "13812340002") == f"沉睡乙您好，{signature}周末有活动。—{name}"
    assert sms_body(page, "13812340003") == (f"礼品丙您好，为您预留的面膜 & 礼盒已经可以领取了，"
                                             f"欢迎来店。—{name}")
    # the page's texts are data for the script, safe to embed (no "</script>" can end it)
    texts = re.search(r'<script type="application/json" id="sms-texts">(.*?)</script>',
                      page, re.S).group(1)
    assert "<" not in texts and isinstance(json.loads(texts), dict)


def test_log_without_a_script_opens_the_form_for_the_item(app, world, login):
    with app.app_context():
        store = load(Store, world.store1)
        customer = _dormant(store, load(User, world.users["beautician1"]), "沉睡甲",
                            "+8613812340001")
        db.session.commit()
        generate_day(store, store.today())
        task_id = db.session.scalar(db.select(Task.id).where(Task.customer_id == customer.id))
        customer_id = customer.id
    client = login("beautician1")
    page = client.get(TODAY).get_data(as_text=True)
    link = f"/tasks/{task_id}/log"
    assert f'href="{link}" data-log-open' in page
    response = client.get(link)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/calls/log?customer_id={customer_id}&task_id={task_id}")
    assert login("beautician2").get(link).status_code == 404  # not her item
    assert client.get("/tasks/999999/log").status_code == 404


def test_the_cards_to_keep_offline_are_the_items_links(app, world, login):
    """The service worker keeps the cards of the customers listed: it reads them from the
    items' own links (no second list of them on the page), and the day's other pages from
    their counts."""
    with app.app_context():
        store = load(Store, world.store1)
        store.daily_contact_target = 2
        staff = load(User, world.users["beautician1"])
        for i in range(4):
            _dormant(store, staff, f"沉睡{i}", f"+861381234000{i}", days=40 + i)
        db.session.commit()
    page = login("beautician1").get(TODAY).get_data(as_text=True)
    assert "data-today-cards" not in page
    assert re.search(r'data-today-pages="1 1"', page), page


def test_the_pages_texts_read_as_through_the_i18n_extension(app, world, login):
    """Today looks its texts up once per page (routes._template_gettext), with the i18n
    extension's rules: a text is always %-formatted (base.html's "%%d" reads "%d") and its
    values are escaped."""
    with app.app_context():
        store = load(Store, world.store1)
        _dormant(store, load(User, world.users["beautician1"]), "沉睡<b>甲", "+8613812340001")
        db.session.commit()
    client = login("beautician1")
    for lang, texts in (("en", ('data-t-waiting="%d waiting to sync"', " red flags<",
                                "Red flags for today", ">Message<", "Previous day")),
                        ("zh-CN", ('data-t-waiting="%d 条等待同步"', " 个红色提示<", "今天的红色提示",
                                   ">发短信<", "前一天"))):
        page = client.get(TODAY, headers={"Accept-Language": lang}).get_data(as_text=True)
        for text in texts:
            assert text in page, (lang, text)
        assert "沉睡&lt;b&gt;甲" in page and "沉睡<b>" not in page
        assert "%%" not in page
