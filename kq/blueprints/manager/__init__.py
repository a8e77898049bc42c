"""The manager blueprint."""
from flask import Blueprint

bp = Blueprint("manager", __name__)

from kq.blueprints.manager import routes  # noqa: E402,F401 - attaches the views to bp
