"""The manager blueprint."""
from flask import Blueprint

bp = Blueprint("manager", __name__)

from kq.blueprints.manager import imports, insight, routes, settings, staff, staffing  # noqa: E402,F401 - views
