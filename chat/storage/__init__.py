"""Where attachment bytes live: one interface, two backends.

- ``local`` (the default, the demo): a folder, ``ATTACHMENT_FOLDER`` or
  ``instance/attachments``, for one machine;
- ``s3``: an S3-compatible bucket through boto3 (``S3_BUCKET``, ``S3_ENDPOINT_URL``,
  ``S3_REGION``, ``S3_ACCESS_KEY_ID``, ``S3_SECRET_ACCESS_KEY``), for several machines.

Keys are made by the application (``new_key``): random, never a user's file name,
so nothing a user sends can name a path or an object. The database stays the
truth: an object no row names is an orphan for the sweep
(``services.attachment_upkeep.sweep``), a row whose object is gone shows "file
unavailable" (``MissingObject``).
"""

import os
import re
import secrets

from flask import current_app

from ..models import utcnow

PREFIX = "att/"
# att/<yyyymm>/<32 hex>[.thumb.jpg|.thumb.png]: the only keys a backend accepts.
KEY = re.compile(r"^att/[0-9]{6}/[0-9a-f]{32}(\.thumb\.(jpg|png))?$")


class MissingObject(Exception):
    """The row names an object the storage does not have (deleted by hand, lost)."""


class StorageUnavailable(Exception):
    """The storage could not be reached or refused the request."""


def new_key():
    return f"{PREFIX}{utcnow():%Y%m}/{secrets.token_hex(16)}"


def check_key(key):
    if not isinstance(key, str) or not KEY.match(key):
        raise ValueError(f"not an attachment key: {key!r}")
    return key


class Storage:
    """What every backend does. ``fileobj`` arguments are binary, readable, at position 0."""

    def put(self, key, fileobj, content_type):  # pragma: no cover - interface
        raise NotImplementedError

    def open(self, key):  # pragma: no cover - interface
        """``(readable binary object, size in bytes)``; ``MissingObject`` if there is none."""
        raise NotImplementedError

    def delete(self, keys):  # pragma: no cover - interface
        """Delete these objects (absent ones are no error)."""
        raise NotImplementedError

    def listing(self):  # pragma: no cover - interface
        """Every stored ``(key, modified)`` (naive UTC), in no particular order."""
        raise NotImplementedError

    def read(self, key):
        fileobj, _ = self.open(key)
        try:
            return fileobj.read()
        finally:
            fileobj.close()


def from_config(config, instance_path):
    kind = (config.get("ATTACHMENT_STORAGE") or "local").strip().lower()
    if kind == "local":
        from .local import LocalStorage

        return LocalStorage(config.get("ATTACHMENT_FOLDER") or os.path.join(instance_path, "attachments"))
    if kind == "s3":
        from .s3 import S3Storage

        return S3Storage.from_config(config)
    raise RuntimeError(f"ATTACHMENT_STORAGE must be 'local' or 's3', not {kind!r}")


def current():
    """This app's storage (made on first use, so tests may move the instance folder first)."""
    app = current_app._get_current_object()
    storage = app.extensions.get("chat_storage")
    if storage is None:
        storage = app.extensions["chat_storage"] = from_config(app.config, app.instance_path)
    return storage
