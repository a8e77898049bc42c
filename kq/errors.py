"""Error pages in the user's language; the session is rolled back on a 500."""
from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from kq.extensions import db


def _wants_json():
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _page(code, title, message):
    if _wants_json():
        return jsonify(error=title, message=message), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def register(app):
    messages = {
        400: lambda: (_("Bad request"), _("The request could not be understood.")),
        403: lambda: (_("Not allowed"), _("Your role does not allow this page.")),
        404: lambda: (_("Not found"), _("There is nothing here, or it belongs to another store.")),
        405: lambda: (_("Not allowed"), _("That action is not possible here.")),
        413: lambda: (_("Too large"), _("The upload is too large.")),
        422: lambda: (_("Check what you entered"),
                      _("Something sent with this page could not be used.")),
        429: lambda: (_("Too many attempts"),
                      _("Too many attempts in a short time. Wait a minute and try again.")),
        500: lambda: (_("Something went wrong"),
                      _("Nothing was saved. Please try again; if it keeps happening, tell the "
                        "manager.")),
    }

    for code, text in messages.items():
        def handler(error, code=code, text=text):
            if code == 500:
                db.session.rollback()
            title, message = text()
            return _page(code, title, message)

        app.register_error_handler(code, handler)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if _wants_json():  # the phone's outbox fetches a fresh token and sends again
            return jsonify(error="csrf_expired", message=_(
                "The form was open too long or came from elsewhere. Reload the page and try "
                "again.")), 400
        return _page(400, _("Page expired"),
                     _("The form was open too long or came from elsewhere. Reload the page and "
                       "try again."))
