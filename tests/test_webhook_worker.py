"""The real worker process (`flask chat worker`) delivers webhooks; killed mid-delivery
(SIGKILL), the next worker sends the same event again with the same webhook-id."""

import os
import subprocess
import time

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import WebhookDelivery
from chat.services import webhooks

from .chat_helpers import first_product_id, make_inquiry
from .live_server import BIN, ROOT
from .webhook_receiver import Receiver


@pytest.fixture
def app_config():
    return {"WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_DELIVER_AT_ONCE": False}


def start_worker(tmp_path, database_url, name):
    env = dict(os.environ)
    env.update(
        CHAT_CONFIG="production",
        SECRET_KEY="worker-test-secret",
        DATABASE_URL=database_url,
        PYTHONPATH=ROOT,
        WEBHOOK_ALLOW_PRIVATE="true",
        # A claim lasts 2 x timeout + 5 s: the next worker may try after 15 s.
        WEBHOOK_TIMEOUT_SECONDS="5",
        MAIL_PORT="1",  # no mail goes anywhere
    )
    env.pop("REDIS_URL", None)
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "worker", "--interval", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def recorded(app, seconds=20):
    deadline = time.monotonic() + seconds
    with app.app_context():
        while time.monotonic() < deadline:
            if db.session.scalar(sa.select(WebhookDelivery.status)) != "pending":
                return
            db.session.rollback()
            time.sleep(0.1)


def test_a_worker_killed_mid_delivery_is_followed_by_one_that_sends_the_same_id(app, demo, database_url, tmp_path):
    with Receiver(["hang", 200]) as receiver:
        with app.app_context():
            _, secret = webhooks.create(None, receiver.url, ["inquiry.created"])
        make_inquiry(app, first_product_id(app), "Where is my parcel?")
        first = start_worker(tmp_path, database_url, "first")
        try:
            [held] = receiver.wait_for(1, seconds=60)
        finally:
            first.kill()  # SIGKILL: no cleanup, the claim stays on the row
            first.wait()
        assert len(receiver.requests) == 1
        second = start_worker(tmp_path, database_url, "second")
        try:
            _, again = receiver.wait_for(2, seconds=60)
            recorded(app)  # before it stops: the worker writes down the answer
        finally:
            second.terminate()
            second.wait()
        assert again["headers"]["webhook-id"] == held["headers"]["webhook-id"]
        assert receiver.verified(secret, again) == receiver.verified(secret, held)
    with app.app_context():
        delivery = db.session.scalar(sa.select(WebhookDelivery))
        assert delivery.status == "delivered" and delivery.last_status_code == 200
