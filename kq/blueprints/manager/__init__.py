"""The manager blueprint."""
from flask import Blueprint

bp = Blueprint("manager", __name__)

from kq.blueprints.manager import (  # noqa: E402,F401 - views
    audit, bulk, campaigns, imports, insight, rewards, routes, scripts, settings, staff, staffing)
