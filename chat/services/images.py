"""Untrusted file bytes in, clean ones out (Pillow).

- ``sniff`` names what a file is from its bytes (never its name or declared type):
  an image Pillow can open as JPEG, PNG, WebP, GIF or HEIC, or a PDF; anything else
  is refused. It reads the header only, so a pixel bomb is refused before a single
  pixel is decoded: Pillow's own limit (``Image.MAX_IMAGE_PIXELS``) applies.
- ``reencode`` decodes an image and encodes a new file from the pixels alone: the
  orientation applied first, colours converted to sRGB, and nothing else kept (no
  EXIF, GPS, XMP, comments or profile). GIFs keep their first frame (as PNG), HEIC
  photos become JPEG. It also makes the thumbnail.
- ``off_loop`` runs that work in a small pool of real threads when the server runs on
  gevent (Pillow releases the GIL while it decodes, resizes and encodes), so one
  large photo never stalls every other request of the worker, and at most
  ``CHAT_IMAGE_THREADS`` images per worker are in memory at once.
"""

import io
import threading
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

THUMBNAIL_SIDE = 480
# What we accept, by the format Pillow finds in the bytes, and what we store it as.
STORED_AS = {"JPEG": "JPEG", "MPO": "JPEG", "HEIF": "JPEG", "PNG": "PNG", "GIF": "PNG", "WEBP": "WEBP"}
OPENERS = ["JPEG", "PNG", "GIF", "WEBP", "HEIF"]
TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
PDF = ("application/pdf", ".pdf")
ENCODE = {
    "JPEG": {"quality": 85},
    "PNG": {"compress_level": 6},
    "WEBP": {"quality": 85, "method": 4},
}


# Why a file is refused (chat/services/attachments.py turns each into a translated sentence).
NOT_ACCEPTED = "is not a picture (JPEG, PNG, WebP, GIF, HEIC) or a PDF"
TOO_MANY_PIXELS = "has too many pixels to be opened safely"
DAMAGED = "could not be read: the picture seems damaged"


class Refused(Exception):
    """The file is not one we take; ``status`` says why (415 type, 422 unreadable or too many pixels)."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Sniffed:
    kind: str  # "PDF", or the image format Pillow found ("JPEG", "HEIF", ...)
    width: int | None = None
    height: int | None = None

    @property
    def is_pdf(self):
        return self.kind == "PDF"


@dataclass
class Clean:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes | None  # None: the image is small enough to be its own thumbnail
    thumbnail_extension: str | None


def sniff(fileobj):
    """What the bytes are; ``Refused`` (415) for anything but our image types and PDF,
    (422) for an image with more pixels than Pillow's limit. Leaves ``fileobj`` at 0."""
    fileobj.seek(0)
    head = fileobj.read(8)
    fileobj.seek(0)
    if head.startswith(b"%PDF-"):
        return Sniffed("PDF")
    try:
        with Image.open(fileobj, formats=OPENERS) as image:
            width, height = image.size
            kind = image.format
    except UnidentifiedImageError:
        raise Refused(415, NOT_ACCEPTED) from None
    except Image.DecompressionBombError:
        raise Refused(422, TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise Refused(422, DAMAGED) from None
    finally:
        fileobj.seek(0)
    if kind not in STORED_AS:
        raise Refused(415, NOT_ACCEPTED)
    if width * height > Image.MAX_IMAGE_PIXELS:
        # Pillow only warns between its limit and twice it: we refuse there already.
        raise Refused(422, TOO_MANY_PIXELS)
    return Sniffed(kind, width, height)


def reencode(fileobj, max_side):
    """A new file from the image's pixels alone, and its thumbnail (see the module's docstring)."""
    fileobj.seek(0)
    try:
        # Not closed (a context manager would free the pixels it hands on); ``fileobj`` stays the caller's.
        original = Image.open(fileobj, formats=OPENERS)
        target = STORED_AS.get(original.format)
        if target is None:
            raise Refused(415, NOT_ACCEPTED)
        if original.format in ("JPEG", "MPO"):
            # A JPEG much larger than we keep is decoded at a fraction of its size (cheap, and less memory).
            ratio = max_side / max(original.size)
            if ratio < 0.5:
                original.draft("RGB", (int(original.size[0] * ratio) + 1, int(original.size[1] * ratio) + 1))
        original.seek(0)  # a GIF's (or MPO's) first frame
        original.load()
        image = _pixels_only(original)
    except Refused:
        raise
    except Image.DecompressionBombError:
        raise Refused(422, TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError):
        raise Refused(422, DAMAGED) from None
    if target == "JPEG" and image.mode == "RGBA":
        image = _on_white(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    data = _encode(image, target)
    thumbnail = thumbnail_extension = None
    if max(image.size) > THUMBNAIL_SIDE:
        scale = THUMBNAIL_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        thumbnail_format = "PNG" if small.mode == "RGBA" else "JPEG"
        thumbnail = _encode(small, thumbnail_format, quality=80)
        thumbnail_extension = TYPES[thumbnail_format][1]
    content_type, extension = TYPES[target]
    return Clean(data, content_type, extension, image.width, image.height, thumbnail, thumbnail_extension)


def _pixels_only(image):
    """The image upright, in sRGB, as RGB or RGBA, with no metadata at all (in place where it can:
    a 12-megapixel photo is 36 MB of pixels, and every copy is another)."""
    ImageOps.exif_transpose(image, in_place=True)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    profile = image.info.get("icc_profile")
    converted = None
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a broken profile: plain conversion below
    if converted is None:
        converted = image.convert(mode) if image.mode != mode else image
    # Everything but the pixels stays behind (EXIF with GPS, XMP, comments, the profile).
    converted.info = {}
    return converted


def _on_white(image):
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode(image, image_format, **overrides):
    out = io.BytesIO()
    image.save(out, image_format, **{**ENCODE[image_format], **overrides})
    return out.getvalue()


_SRGB = ImageCms.createProfile("sRGB")


# -- off the gevent loop --------------------------------------------------------

_pool = None
_pool_lock = threading.Lock()


def _under_gevent():
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")


def off_loop(size, function, *args):
    """``function(*args)`` in the worker's ``size`` image threads under gevent; here and now
    otherwise (and with ``size`` 0: on the gevent loop itself, for comparison in bench/uploads.py)."""
    global _pool
    if size <= 0 or not _under_gevent():
        return function(*args)
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                from gevent.threadpool import ThreadPool

                _pool = ThreadPool(max(1, size))
    return _pool.apply(function, args)
