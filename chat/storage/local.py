"""Attachments in a folder on this machine (the default; one machine only)."""

import os
import tempfile
from datetime import UTC, datetime

from . import PREFIX, MissingObject, Storage, StorageUnavailable, check_key


class LocalStorage(Storage):
    def __init__(self, root):
        self.root = os.path.abspath(root)

    def _path(self, key):
        return os.path.join(self.root, *check_key(key).split("/"))

    def put(self, key, fileobj, content_type):
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # Written under a temporary name and renamed: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        except OSError as error:
            raise StorageUnavailable(str(error)) from error
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := fileobj.read(1024 * 1024):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException as error:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(error, OSError):  # a full or read-only disk: a 503, not a 500
                raise StorageUnavailable(str(error)) from error
            raise

    def open(self, key):
        try:
            fileobj = open(self._path(key), "rb")  # noqa: SIM115 - the caller streams and closes it
        except FileNotFoundError:
            raise MissingObject(key) from None
        return fileobj, os.fstat(fileobj.fileno()).st_size

    def delete(self, keys):
        for key in keys:
            try:
                os.unlink(self._path(key))
            except FileNotFoundError:
                pass

    def listing(self):
        top = os.path.join(self.root, PREFIX.rstrip("/"))
        for folder, _, files in os.walk(top):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                path = os.path.join(folder, name)
                key = os.path.relpath(path, self.root).replace(os.sep, "/")
                try:
                    modified = datetime.fromtimestamp(os.path.getmtime(path), UTC).replace(tzinfo=None)
                except FileNotFoundError:
                    continue
                yield key, modified
