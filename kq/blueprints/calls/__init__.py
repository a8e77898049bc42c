"""The calls blueprint."""
from flask import Blueprint

bp = Blueprint("calls", __name__)

from kq.blueprints.calls import outbox, routes  # noqa: E402,F401 - attaches the views to bp
