"""`make run`'s mail catcher: the worker's mails land in instance/mail/ and on stdout."""

import email
import os
import re
import time
from email import policy

from chat import devmail
from chat.services import conversations

from .chat_helpers import first_product_id
from .live_server import ROOT, free_port


def test_an_urgent_inquirys_mail_is_caught_kept_and_printed(app, demo, runner, tmp_path):
    folder = tmp_path / "mail"
    printed = []
    port = free_port()
    catcher = devmail.start(str(folder), port=port, echo=printed.append)
    try:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
        with app.app_context():
            inquiry_id = conversations.send_customer_message(
                first_product_id(app), "d" * 30, "URGENT: the strap <b>broke</b>, I want a refund"
            ).message.inquiry_id
        result = runner.invoke(args=["chat", "worker", "--once"])
        assert result.exit_code == 0 and "sent 1, failed 0" in result.output, result.output
        deadline = time.monotonic() + 5
        while not printed and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        catcher.stop()
    [kept] = os.listdir(folder)
    assert kept.endswith(".eml")
    with open(folder / kept, "rb") as fh:
        message = email.message_from_binary_file(fh, policy=policy.default)
    assert message["To"] == "admin@example.com"
    assert message["Subject"] == "Urgent question about Trailhead 35L Hiking Backpack"
    [summary] = printed
    assert summary.startswith("--- mail to admin@example.com: Urgent question about Trailhead 35L Hiking Backpack")
    assert "URGENT: the strap <b>broke</b>, I want a refund" in summary
    assert f"/admin/inquiries/{inquiry_id}" in summary and summary.endswith(str(folder / kept))


def test_the_catcher_listens_on_loopback_only(app, runner):
    result = runner.invoke(args=["chat", "mail-catcher", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "loopback only" in result.output


def test_make_run_runs_the_server_the_worker_and_the_catcher(app):
    with open(os.path.join(ROOT, "Procfile.dev")) as fh:
        processes = dict(re.findall(r"^(\w+): (.+)$", fh.read(), re.M))
    assert processes["web"].startswith("gunicorn -c gunicorn.conf.py wsgi:app")
    assert processes["worker"].startswith("flask --app wsgi chat worker")
    port = re.search(r"chat mail-catcher --port (\d+)", processes["mail"]).group(1)
    with open(os.path.join(ROOT, "Makefile")) as fh:
        makefile = fh.read()
    assert f"DEMO_MAIL_PORT ?= {port}" in makefile and "MAIL_PORT=$(DEMO_MAIL_PORT)" in makefile
    assert "honcho -f Procfile.dev start" in makefile
