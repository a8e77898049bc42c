"""The gifts blueprint."""
from flask import Blueprint

bp = Blueprint("gifts", __name__)

from kq.blueprints.gifts import routes  # noqa: E402,F401 - attaches the views to bp
