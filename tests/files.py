"""Files a shopper might send, made here (real encoders, no fixtures on disk)."""

import io
import struct
import zlib

from PIL import ExifTags, Image

# Where the photo was taken, as a phone writes it: Berlin, in degrees, minutes, seconds.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
}


def jpeg_with_gps(width=640, height=480, orientation=6, grain=False):
    """A phone photo: EXIF with GPS coordinates, a camera model and an orientation tag
    (6: the camera was turned, the picture must be rotated 90° to stand upright).
    ``grain``: the bottom half noisy, as a real photo's detail (a larger file)."""
    import os

    image = Image.new("RGB", (width, height), (200, 40, 40))
    # The top-left quarter blue, so rotations can be told apart.
    image.paste((20, 40, 200), (0, 0, width // 2, height // 2))
    if grain:
        half = height // 2
        image.paste(Image.frombytes("RGB", (width, half), os.urandom(width * half * 3)), (0, height - half))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


def png(width=300, height=200, colour=(10, 120, 60, 255), mode="RGBA"):
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg(width=1200, height=900, colour=(30, 90, 160), quality=90):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=quality)
    return out.getvalue()


def noisy_jpeg(size_bytes, width=2400):
    """A JPEG of about ``size_bytes`` (noise compresses badly, like a real photo's detail)."""
    import os

    height = max(64, size_bytes // (width * 3 // 4))
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def gif_two_frames():
    """An animated GIF: a red frame, then a blue one."""
    frames = [Image.new("RGB", (120, 80), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def heic(width=800, height=600):
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (width, height), (240, 200, 20)).save(out, "HEIF", quality=70)
    return out.getvalue()


def pdf():
    """A small valid PDF (one empty page)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return body


def pixel_bomb(side=40_000):
    """A valid PNG of side × side one-bit pixels (1.6 billion: far past Pillow's limit)
    that is only a few hundred kilobytes: all zeros compress to almost nothing."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + the row's bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


HTML_AS_JPG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
