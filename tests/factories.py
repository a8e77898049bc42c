"""Test data: a world of two stores, and factory_boy factories for one-off rows."""
from dataclasses import dataclass, field
from datetime import datetime, timezone

import factory

from kq.extensions import db
from kq.models import BEAUTICIAN, MANAGER, OWNER, Customer, Store, User
from kq.services.assignments import assign


class StoreFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Store
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    name = factory.Sequence(lambda n: f"门店{n}")


class UserFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"员工{n}")
    role = BEAUTICIAN
    password_hash = "unset"

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        if extracted:
            obj.set_password(extracted)


class CustomerFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Customer
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    name = factory.Sequence(lambda n: f"梁小{'娟静丽芳'[n % 4]}{n}")
    surname = "梁"
    title = "小姐"
    greeting_name = "梁小姐"
    gender = "F"
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    created_at = datetime(2025, 1, 1, tzinfo=timezone.utc)


@dataclass
class World:
    """Primitive ids only: tests re-load rows inside their own app context."""

    store1: int = 0
    store2: int = 0
    users: dict = field(default_factory=dict)  # username → id
    customers: dict = field(default_factory=dict)  # label → id


def build_world(password):
    s1 = StoreFactory(name="一店")
    s2 = StoreFactory(name="二店")
    users = {
        "owner": UserFactory(username="owner", role=OWNER, store_id=s1.id, password=password),
        "manager": UserFactory(username="manager", role=MANAGER, store_id=s1.id, password=password),
        "beautician1": UserFactory(username="beautician1", store_id=s1.id, password=password),
        "beautician2": UserFactory(username="beautician2", store_id=s1.id, password=password),
        "manager2": UserFactory(username="manager2", role=MANAGER, store_id=s2.id,
                                password=password),
        "beautician7": UserFactory(username="beautician7", store_id=s2.id, password=password),
    }
    customers = {
        "mine": CustomerFactory(store_id=s1.id, name="梁小娟", phone="+8613812345678"),
        "colleague": CustomerFactory(store_id=s1.id, name="王芳", surname="王",
                                     greeting_name="王小姐", phone="+8613900001111"),
        "other_store": CustomerFactory(store_id=s2.id, name="赵敏", surname="赵",
                                       greeting_name="赵女士", phone="+8613700002222"),
    }
    assign(customers["mine"], users["beautician1"], commit=False)
    assign(customers["colleague"], users["beautician2"], commit=False)
    assign(customers["other_store"], users["beautician7"], commit=False)
    db.session.commit()
    return World(store1=s1.id, store2=s2.id,
                 users={k: v.id for k, v in users.items()},
                 customers={k: v.id for k, v in customers.items()})
