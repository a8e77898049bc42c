"""The reports blueprint."""
from flask import Blueprint

bp = Blueprint("reports", __name__)

from kq.blueprints.reports import routes  # noqa: E402,F401 - attaches the views to bp
