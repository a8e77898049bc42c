"""The customers blueprint."""
from flask import Blueprint

bp = Blueprint("customers", __name__)

from kq.blueprints.customers import routes  # noqa: E402,F401 - attaches the views to bp
