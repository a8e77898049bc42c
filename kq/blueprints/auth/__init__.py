"""The auth blueprint."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from kq.blueprints.auth import routes  # noqa: E402,F401 - attaches the views to bp
