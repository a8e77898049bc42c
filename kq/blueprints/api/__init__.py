"""The api blueprint."""
from flask import Blueprint

bp = Blueprint("api", __name__)

from kq.blueprints.api import routes  # noqa: E402,F401 - attaches the views to bp
