"""What goes over the wire: compression of every text response, and static files under
fingerprinted names.

- Responses: Flask-Compress, brotli or gzip as Accept-Encoding asks (Vary: Accept-Encoding),
  not below 500 bytes and not for types that are compressed already (PDF, xlsx, images are not
  in its list). A page kept by kq.pagecache is compressed once and kept compressed too.
- Static files: url_for('static', filename='css/app.css') gives /static/css/app.<hash>.css,
  the first ten hex digits of the file's SHA-256. That name is served with
  `Cache-Control: public, max-age=31536000, immutable` and, for text, compressed ahead (brotli
  at its best, gzip at 9) the first time it is asked for, kept in memory. A name whose hash is
  not the file's (a page from before a deployment) gets today's file, revalidated each time
  (no-cache), as does the plain name (the service worker's shell list, old links).
"""
import gzip
import hashlib
import mimetypes
import os
import re
import threading
from stat import S_ISREG

import brotli
from flask import current_app, request, url_for
from flask_compress import Compress

from kq import pagecache

FOREVER = "public, max-age=31536000, immutable"
HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{10})(?P<ext>\.[A-Za-z0-9]+)$")
TEXT = {".css", ".js", ".svg", ".json", ".webmanifest", ".txt", ".html", ".map"}
MIN_SIZE = 500

_lock = threading.Lock()
_hashes = {}  # path → (mtime_ns, size, hash)
_packed = {}  # (path, hash, encoding) → bytes
_paths = {}  # (static folder, filename) → its real path inside the folder
_urls = {}  # (script root, filename, hash) → url_for('static', filename=filename)


def init_app(app):
    """Compression, fingerprinted static files and the page cache's switch."""
    app.config.setdefault("PAGE_CACHE", os.environ.get("KQ_PAGE_CACHE", "1").strip().lower()
                          not in ("0", "false", "no", "off"))
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", MIN_SIZE)
    app.config.setdefault("COMPRESS_STREAMS", False)  # files and exports pass as they are
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    app.config.setdefault("COMPRESS_CACHE_KEY", pagecache.compress_key)
    app.config.setdefault("COMPRESS_CACHE_BACKEND", pagecache.CompressedPages)
    Compress(app)
    app.url_defaults(_fingerprint)
    app.jinja_env.globals["static_url"] = static_url
    app.view_functions["static"] = _static


def file_hash(path, stat=None):
    """The first ten hex digits of the file's SHA-256, or None when there is no such file.
    `stat`: the file's os.stat, when the caller has just taken it."""
    if stat is None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
    seen = _hashes.get(path)
    if seen and seen[0] == stat.st_mtime_ns and seen[1] == stat.st_size:
        return seen[2]
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:10]
    _hashes[path] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


def _path(filename):
    """The file's real path inside the static folder, or None (outside it, or no such file).
    Where a name resolves to is kept (a page names the same five files every time); whether the
    file is there is asked each time."""
    key = (current_app.static_folder, filename)
    path = _paths.get(key)
    if path is None:
        root = os.path.realpath(current_app.static_folder)
        path = os.path.realpath(os.path.join(root, filename))
        if not path.startswith(root + os.sep):
            return None
        with _lock:
            _paths[key] = path
    return path if os.path.isfile(path) else None


def _file_digest(filename):
    """file_hash of the named file inside the static folder, or None (outside it, no such
    file, not a file): one stat, where _path and file_hash would take two."""
    key = (current_app.static_folder, filename)
    path = _paths.get(key) or _path(filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return file_hash(path, stat) if S_ISREG(stat.st_mode) else None


def asset_url(filename):
    """The fingerprinted name of a static file (what url_for('static') gives)."""
    digest = _file_digest(filename)
    if digest is None:
        return filename
    stem, ext = os.path.splitext(filename)
    return f"{stem}.{digest}{ext}"


def static_url(filename):
    """url_for('static', filename=filename), the same URL, for the files every page names
    (base.html): kept per file and its current hash (the file is still looked at each time),
    without building the URL again."""
    key = (request.script_root, filename, _file_digest(filename))
    url = _urls.get(key)
    if url is None:
        url = url_for("static", filename=filename)
        with _lock:
            if len(_urls) >= 1000:
                _urls.clear()
            _urls[key] = url
    return url


def _fingerprint(endpoint, values):
    if endpoint == "static" and "filename" in values and not values.pop("plain", False):
        values["filename"] = asset_url(values["filename"])


def _encoding(ext, size):
    if ext not in TEXT or size < MIN_SIZE:
        return None
    accepted = request.accept_encodings
    for name in ("br", "gzip"):
        if accepted[name]:
            return name
    return None


def _packed_bytes(path, digest, encoding):
    key = (path, digest, encoding)
    data = _packed.get(key)
    if data is None:
        with open(path, "rb") as f:
            raw = f.read()
        data = (brotli.compress(raw, quality=11) if encoding == "br"
                else gzip.compress(raw, compresslevel=9, mtime=0))
        with _lock:
            _packed[key] = data
    return data


def _static(filename):
    match = HASHED.match(filename)
    plain = match.group("stem") + match.group("ext") if match else filename
    path = _path(plain) if match else None
    if path is None:  # not a fingerprinted name: Flask's own
        response = current_app.send_static_file(filename)
        response.headers["Cache-Control"] = "no-cache"
        return response
    digest = file_hash(path)
    if digest != match.group("hash"):
        response = current_app.send_static_file(plain)
        response.headers["Cache-Control"] = "no-cache"
        return response
    ext = os.path.splitext(plain)[1]
    encoding = _encoding(ext, os.path.getsize(path))
    if encoding is None:
        response = current_app.send_static_file(plain)
    else:
        response = current_app.response_class(_packed_bytes(path, digest, encoding))
        response.mimetype = (mimetypes.guess_type(plain)[0] or "application/octet-stream")
        response.headers["Content-Encoding"] = encoding
    if ext in TEXT:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = FOREVER
    response.set_etag(digest + ("-" + encoding if encoding else ""))
    return response.make_conditional(request)

