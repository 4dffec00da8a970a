"""Uploads against the real server (gunicorn + gevent): a cut connection, a retry, a pixel bomb."""

import json
import socket
import urllib.request
import uuid

import pytest

from . import files
from .live_server import LiveServer, prepared_env

BOUNDARY = "----chattestboundary7MA4YWxkTrZu0gW"


def multipart(fields, uploads):
    """A multipart/form-data body, as a browser sends it."""
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for content, filename, mimetype in uploads:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            f"Content-Type: {mimetype}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("uploads")
    env = prepared_env(tmp_path, f"sqlite:///{tmp_path}/uploads.sqlite", ATTACHMENT_FOLDER=str(tmp_path / "files"))
    with LiveServer(env) as live:
        live.files = tmp_path / "files"
        yield live


def post(server, body, token=""):
    request = urllib.request.Request(
        server.url + "/api/products/1/messages",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "X-Chat-Session": token},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response), response.headers.get("X-Chat-Session")
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), None


def stored_files(server):
    return sorted(path for path in server.files.rglob("*") if path.is_file()) if server.files.exists() else []


def test_an_upload_cut_off_and_retried_stores_one_message_with_all_its_files(server):
    client_id = str(uuid.uuid4())
    photo, document = files.jpeg_with_gps(1200, 900, grain=True), files.pdf()
    body = multipart(
        {"message_text": "It arrived broken", "client_message_id": client_id},
        [(photo, "front.jpg", "image/jpeg"), (document, "receipt.pdf", "application/pdf")],
    )
    before = stored_files(server)
    # The phone loses its signal halfway through the photo: the connection closes mid-body.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = (
            "POST /api/products/1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Chat-Session: \r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[: len(body) // 2])
    # The widget sends it again, with the same client id: one message, with both files.
    status, message, token = post(server, body)
    assert status == 201, message
    assert [a["filename"] for a in message["attachments"]] == ["front.jpg", "receipt.pdf"]
    again_status, again, _ = post(server, body, token)
    assert again_status == 200 and again["id"] == message["id"]
    listing = urllib.request.Request(server.url + "/api/products/1/messages", headers={"X-Chat-Session": token})
    with urllib.request.urlopen(listing, timeout=10) as response:
        messages = json.load(response)["messages"]
    assert [(m["message_text"], len(m["attachments"])) for m in messages] == [("It arrived broken", 2)]
    # Nothing left over from the cut send or the retry: the photo, its thumbnail, the PDF.
    assert len(stored_files(server)) - len(before) == 3


def peak_memory_kb(server):
    """The worker's peak resident memory (VmHWM) so far."""
    workers = open(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read().split()
    peak = 0
    for pid in workers:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


def test_a_pixel_bomb_is_refused_before_it_is_decoded(server):
    # Warm up: one real photo through the whole path (imports, the image threads).
    status, _, _ = post(server, multipart({"message_text": "warm"}, [(files.jpeg(), "warm.jpg", "image/jpeg")]))
    assert status == 201
    before = peak_memory_kb(server)
    # 1.6 billion pixels in 200 KB: decoded, it would need 1.6 GB.
    status, body, _ = post(server, multipart({"message_text": "bomb"}, [(files.pixel_bomb(), "bomb.png", "image/png")]))
    assert status == 422 and "too many pixels" in body["fields"]["files[0]"]
    grown_mb = (peak_memory_kb(server) - before) / 1024
    assert grown_mb < 64, f"the worker's peak memory grew by {grown_mb:.0f} MB"
    assert server.process.poll() is None
    status, _, _ = post(server, multipart({"message_text": "still here"}, [(files.png(), "ok.png", "image/png")]))
    assert status == 201


def test_one_byte_over_the_limit_is_413_with_a_clear_message(server):
    too_large = files.pdf().ljust(10 * 1024 * 1024 + 1, b" ")
    status, body, _ = post(server, multipart({"message_text": "big"}, [(too_large, "big.pdf", "application/pdf")]))
    assert status == 413
    assert body["fields"]["files[0]"] == "big.pdf is larger than 10 MB (files can be at most that)."
    # More than five files' worth in one body: refused from its declared length, before it is read.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            (
                "POST /api/products/1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Chat-Session: \r\nConnection: close\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {60 * 1024 * 1024}\r\n\r\n"
            ).encode()
            + b"x" * 1024
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert "at most 5 files of 10 MB each" in json.loads(body)["error"]


def test_other_routes_keep_their_small_limit(server):
    request = urllib.request.Request(
        server.url + "/embed/demo/email",
        data=b"customer_email=" + b"a" * (100 * 1024),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Chat-Session": ""},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413


def test_a_photo_arrives_live_on_the_shoppers_stream_with_a_working_thumbnail(server):
    import html
    import re

    from .sse_client import SSEClient
    from .test_live import ready, stream_ticket

    status, _, token = post(server, multipart({"message_text": "first"}, []))
    assert status == 201
    client = SSEClient(f"{server.url}/embed/demo/stream?product=1&ticket={stream_ticket(server, token)}")
    try:
        assert ready(client)
        status, message, _ = post(
            server, multipart({"message_text": ""}, [(files.jpeg(), "live.jpg", "image/jpeg")]), token
        )
        assert status == 201
        event = client.collect(lambda got: any(e.id == str(message["id"]) for e in got), timeout=10)
        fragment = next(e for e in event if e.id == str(message["id"])).data
        assert 'alt="live.jpg"' in fragment
        thumbnail = html.unescape(re.search(r'src="(/attachments/[^"]+)"', fragment).group(1))
        with urllib.request.urlopen(server.url + thumbnail, timeout=10) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
    finally:
        client.close()
