"""The tasks blueprint."""
from flask import Blueprint

bp = Blueprint("tasks", __name__)

from kq.blueprints.tasks import exports, routes  # noqa: E402,F401 - attaches the views to bp
