"""Entry point: `flask --app app …` and `gunicorn app:app` build the app here."""
from kq import create_app

app = create_app()
