"""Gunicorn settings for Keqing (`gunicorn -c gunicorn.conf.py app:app`, as in the Procfile).

Command-line options given with -c still win over what is set here (the Procfile passes
--workers and --bind). See docs/operations.md.
"""
import gunicorn.http.wsgi

# Every response of Gunicorn names itself ("Server: gunicorn"), which tells a prober which
# server and so which known flaws to try. Gunicorn has no setting for it: its HTTP response
# reads this module-level name for each response, so this replaces it in the master before
# the workers are forked (gunicorn 27; tests/test_headers.py checks a real server).
gunicorn.http.wsgi.SERVER = "Keqing"

# Files Gunicorn itself creates (worker heartbeat files, a unix socket) are its owner's only;
# the app sets the same mask for the database, printed PDFs and uploads (kq.create_app).
umask = 0o077
