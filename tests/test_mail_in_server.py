"""Answer by email against the real server (gunicorn + gevent) and the real commands:
the demo's round trip (`flask chat worker`, the mail catcher, `flask chat reply-to-mail`),
`flask chat mail-in` as a process, and chunked webhook bodies."""

import http.client
import json
import os
import re
import signal
import smtplib
import subprocess
import time

import pytest

from chat import devmail

from .live_server import BIN, ROOT, LiveServer, free_port, prepared_env
from .sse_client import SSEClient
from .test_live import api_send, stream_ticket

SECRET = "inbound-server-secret"
DOMAIN = "reply.localhost"
LIMIT = 150_000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The server with mail-in on, and the demo's mail catcher in this process."""
    tmp_path = tmp_path_factory.mktemp("mailin")
    folder = tmp_path / "mail"
    caught = []
    catcher_port, port = free_port(), free_port()
    catcher = devmail.start(str(folder), port=catcher_port, echo=caught.append)
    env = prepared_env(
        tmp_path,
        f"sqlite:///{tmp_path}/mailin.sqlite",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=catcher_port,
        MAIL_REPLY_DOMAIN=DOMAIN,
        INBOUND_EMAIL_SECRET=SECRET,
        INBOUND_EMAIL_MAX_BYTES=LIMIT,
    )
    try:
        with LiveServer(env, port=port) as server:
            server.folder, server.caught = folder, caught
            yield server
    finally:
        catcher.stop()


def flask(world, *args, **kwargs):
    return subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", *args],
        env=world.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def caught_mail(world, count):
    """The path of the ``count``-th mail the catcher kept (waiting for it a little)."""
    deadline = time.monotonic() + 10
    while len(world.caught) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return re.search(r"kept as (\S+)$", world.caught[count - 1]).group(1)


def test_the_demos_round_trip_an_admin_answers_by_email_and_the_shopper_sees_it_live(world):
    sent, token = api_send(world, "URGENT: the zip broke on the first day")
    stream = SSEClient(
        f"{world.url}/embed/demo/stream?product=1&after={sent['id']}&ticket={stream_ticket(world, token)}"
    )
    try:
        stream.collect(lambda got: got and got[-1].type == "ready")
        worker = flask(world, "worker", "--once")
        # The demo site has two people: its owner and its agent are both told of an urgent question.
        assert "sent 2, failed 0" in worker.stdout, worker.stdout + worker.stderr
        caught_mail(world, 2)
        [path] = [caught_mail(world, n) for n in (1, 2) if "mail to admin@example.com" in world.caught[n - 1]]
        # What the README tells a newcomer to run, with the caught file.
        reply = flask(world, "reply-to-mail", path, "So sorry! A new one goes out today.")
        assert reply.returncode == 0, reply.stderr
        assert re.fullmatch(rf"The admin's answer in inquiry {sent['inquiry_id']} \(message \d+\)\.\n", reply.stdout), (
            reply.stdout
        )
        got = stream.collect(lambda got: any(e.type == "message" for e in got))
        [answer] = [e for e in got if e.type == "message"]
        assert "So sorry! A new one goes out today." in answer.data and "wrote:" not in answer.data
        # The same file again: the mail program's Message-ID is new each time, the chat takes it again;
        # from someone else it is refused, and they get one mail saying why.
        refused = flask(world, "reply-to-mail", path, "me too", "--from", "mallory@example.net")
        assert refused.stdout == f"Dropped: wrong_sender (inquiry {sent['inquiry_id']}).\n"
        assert "sent 1, failed 0" in flask(world, "worker", "--once").stdout
        caught_mail(world, 3)
        assert world.caught[2].startswith("--- mail to mallory@example.net: Your email did not reach")
    finally:
        stream.close()


def test_mail_in_runs_as_a_command_and_takes_replies_over_smtp(world):
    sent, _ = api_send(world, "URGENT: wrong colour delivered")
    flask(world, "worker", "--once")
    original = open(caught_mail(world, len(world.caught)), "rb").read()
    port = free_port()
    process = subprocess.Popen(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "mail-in", "--port", str(port), "--max-bytes", "50000"],
        env=world.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith(f"Mail-in on 127.0.0.1:{port}: replies to reply+...@{DOMAIN}")
        reply = devmail.reply_to(original, "The right colour ships tomorrow.")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            address = re.search(rb"Reply-To: (\S+)", original).group(1).decode()
            assert client.sendmail("admin@example.com", [address], reply) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("admin@example.com", ["postmaster@example.com"], reply)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    shown = flask(world, "export-customer", "--inquiry", str(sent["inquiry_id"]))
    texts = [m["text"] for m in json.loads(shown.stdout)["inquiries"][0]["messages"]]
    assert "The right colour ships tomorrow." in texts


def post_chunked(world, body, secret=SECRET):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=30)
    try:
        chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
        conn.request(
            "POST",
            "/api/inbound/email",
            body=chunks,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_chunked_mails_are_taken_up_to_the_inbound_limit_not_the_api_limit(world):
    sent, _ = api_send(world, "URGENT: is the warranty two years?")
    flask(world, "worker", "--once")
    original = open(caught_mail(world, len(world.caught)), "rb").read()
    thread = "> an old quoted thread line\n" * 3500  # about 100 KB: past MAX_CONTENT_LENGTH (64 KB)
    status, body = post_chunked(world, devmail.reply_to(original, "Yes, two years.\n\n" + thread))
    assert status == 202 and body["outcome"] == "answer" and body["inquiry_id"] == sent["inquiry_id"]
    status, body = post_chunked(world, devmail.reply_to(original, "Too long.\n\n" + thread * 2))
    assert status == 413 and "error" in body
    status, body = post_chunked(world, devmail.reply_to(original, "No secret."), secret="wrong")
    assert status == 401
