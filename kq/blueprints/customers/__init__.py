"""The customers blueprint: the list and search, the card, and editing."""
from flask import Blueprint

bp = Blueprint("customers", __name__)

from kq.blueprints.customers import (  # noqa: E402,F401 - views
    cards, commitments, editing, privacy, routes)
