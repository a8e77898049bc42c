"""The manager blueprint."""
from flask import Blueprint

bp = Blueprint("manager", __name__)

from kq.blueprints.manager import insight, routes, staffing  # noqa: E402,F401 - views
