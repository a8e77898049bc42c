"""The demo salon and the bench data are usable as they are: every phone they generate passes
the app's own validator, and a demo card can be saved through its edit form unchanged."""
from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict

from kq.extensions import db
from kq.models import Customer, Store
from kq.services import ServiceError
from kq.services.customers import normalize_phone


def _invalid(phones):
    bad = []
    for phone in phones:
        try:
            if normalize_phone(phone) != phone:
                bad.append(phone)
        except ServiceError:
            bad.append(phone)
    return bad


class _Form(HTMLParser):
    """The fields one form would submit, as a browser would: checked boxes and radios, the
    selected option (else the first), textareas' text."""

    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.fields = action, False, []
        self._select = self._textarea = None
        self._first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("action", self.action).split("?")[0] in ("", self.action):
            self.inside = True  # a form without an action posts to its own page
        if not self.inside or a.get("disabled") is not None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file"):
                return
            self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and a.get("name"):
            self._select, self._first_option, self._chosen = a["name"], None, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._chosen = value
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select:
            chosen = self._chosen if self._chosen is not None else self._first_option
            self.fields.append((self._select, chosen or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea[0], self._textarea[1].removeprefix("\n")))
            self._textarea = None


def _fields(page, action):
    parser = _Form(action)
    parser.feed(page)
    return parser.fields


def test_every_demo_phone_is_valid_and_a_card_saves_unchanged(app, login):
    from kq.demo import DEMO_PASSWORD, load_demo

    with app.app_context():
        load_demo()
        customers = db.session.scalars(db.select(Customer).order_by(Customer.id)).all()
        assert len(customers) > 1000
        phones = [c.phone for c in customers]
        assert _invalid(phones) == [], f"{len(_invalid(phones))} of {len(phones)} invalid"
        assert len(set(phones)) == len(phones)
        for store in db.session.scalars(db.select(Store)):  # shown as written, e.g. 021-6288 1234
            assert normalize_phone(store.phone).startswith("+8621")
        main = db.session.scalar(db.select(Store).order_by(Store.id))
        _the_trades_campaign_is_running(main)
        _a_few_do_not_contact(main)
        ours = [c for c in customers if c.store_id == main.id]
        referred = [c for c in ours if c.referred_by_id][:10]  # her referrer's phone is shown too
        sample = [(c.id, c.phone) for c in ours[::40] + referred]
        assert len(referred) == 10
    manager = login("manager", password=DEMO_PASSWORD)
    for customer_id, phone in sample:
        action = f"/customers/{customer_id}/edit"
        form = _fields(manager.get(action).get_data(as_text=True), action)
        assert any(name == "phone" for name, _value in form)
        response = manager.post(action, data=MultiDict(form), headers={"Accept-Language": "en"})
        assert response.status_code == 302, (customer_id, phone,
                                             response.get_data(as_text=True)[-3000:])
        with app.app_context():
            assert db.session.get(Customer, customer_id).phone == phone


def _the_trades_campaign_is_running(main):
    """The trade's example (seed 000) as a launched campaign of the main store, today inside it."""
    from kq.models.campaign import Campaign
    from kq.services import campaigns

    campaign = db.session.scalars(db.select(Campaign).where(Campaign.store_id == main.id)).one()
    assert campaign.launched and campaign.starts_on < main.today() < campaign.ends_on
    assert campaigns.counts(main, campaign) == {"total": 452, "key": 162, "general": 290}
    days = sorted((t.day - campaign.starts_on).days + 5 for t in campaign.touches)
    assert days == [6, 7, 8, 10, 10, 10, 13, 15]
    assert [(g.audience, (g.pickup_after - campaign.starts_on).days + 5)
            for g in campaign.gifts] == [("key", 20)]


def test_every_bench_phone_is_valid(app):
    from kq.benchdata import fill

    with app.app_context():
        fill(customers=3000, visits=3000, staff=2, stores=1, log=lambda *a, **k: None)
        phones = db.session.scalars(db.select(Customer.phone)).all()
        assert len(phones) == 3000
        assert _invalid(phones) == [], f"{len(_invalid(phones))} of {len(phones)} invalid"


def _a_few_do_not_contact(main):
    """A handful of the main store's customers asked not to be contacted (with the reason), none
    of them in the campaign; a bulk message to the dormant customers skips them."""
    from kq.demo import DEMO_TAG
    from kq.models import CustomerTag
    from kq.services import messaging, segments

    dnc = db.session.scalars(db.select(Customer).where(
        Customer.store_id == main.id, Customer.do_not_contact.is_(True))).all()
    assert 3 <= len(dnc) <= 5
    assert all(c.do_not_contact_reason for c in dnc)
    tagged = set(db.session.scalars(db.select(CustomerTag.customer_id).where(
        CustomerTag.store_id == main.id, CustomerTag.name == DEMO_TAG)))
    assert not tagged & {c.id for c in dnc}
    skips = messaging.count_skips(main, segments.segment_ids(main, {"status": "dormant"}), "sms")
    assert skips["do_not_contact"] == len(dnc)
