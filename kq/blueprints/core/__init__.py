"""The core blueprint."""
from flask import Blueprint

bp = Blueprint("core", __name__)

from kq.blueprints.core import routes  # noqa: E402,F401 - attaches the views to bp
