"""A shop's signature of its logged-in customer: one unambiguous string, a bounded lifetime,
and the README's worked example reproduces exactly."""

import hashlib
import hmac
import os
import re
import time

from chat.extensions import db
from chat.services import sites

from .chat_helpers import sign_identity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAY = 86400


def _old_colon_signature(secret, customer_id, email, stamp):
    return hmac.new(secret.encode(), f"{customer_id}:{email}:{stamp}".encode(), hashlib.sha256).hexdigest()


def _identify(app, customer_id, email, stamp, signature):
    body = {"customer_id": customer_id, "email": email, "timestamp": str(stamp), "signature": signature}
    return app.test_client().post("/embed/demo/identify", json=body, headers={"X-Chat-Session": ""})


def test_a_signature_cannot_move_text_from_one_field_to_the_next(app, demo):
    now = int(time.time())
    with app.app_context():
        site = sites.demo_site()
        secret = site.identity_secret
        # The shop vouches for customer "c42:a" with the email "b@x.io" ...
        vouched = sign_identity(secret, "c42:a", "b@x.io", now)
        assert sites.verify_identity(site, "c42:a", "b@x.io", str(now), vouched, DAY, now)
        # ... which says nothing about customer "c42" with "a:b@x.io".
        assert not sites.verify_identity(site, "c42", "a:b@x.io", str(now), vouched, DAY, now)
        # The old "id:email:timestamp" string is ambiguous: it is refused, whichever split it claims.
        colon = _old_colon_signature(secret, "c42:a", "b@x.io", now)
        assert not sites.verify_identity(site, "c42", "a:b@x.io", str(now), colon, DAY, now)
        assert not sites.verify_identity(site, "c42:a", "b@x.io", str(now), colon, DAY, now)
    # Through the endpoint: the colon-joined signature of one customer never makes another one.
    assert _identify(app, "c42", "a:b@x.io", now, colon).status_code in (403, 422)


def test_a_signature_dated_in_the_future_is_refused_beyond_five_minutes(app, demo):
    now = int(time.time())
    with app.app_context():
        site = sites.demo_site()

        def accepted(stamp):
            signature = sign_identity(site.identity_secret, "c-7", "kim@example.com", stamp)
            return sites.verify_identity(site, "c-7", "kim@example.com", str(stamp), signature, DAY, now)

        assert accepted(now) and accepted(now - DAY + 60) and accepted(now + 240)
        assert not accepted(now + 360)
        assert not accepted(now + 23 * 3600)  # would have lived 47 hours
        assert not accepted(now - DAY - 60)
    ahead = now + 23 * 3600
    with app.app_context():
        secret = sites.demo_site().identity_secret
    refused = _identify(app, "c-7", "kim@example.com", ahead, sign_identity(secret, "c-7", "kim@example.com", ahead))
    assert refused.status_code == 403 and "X-Chat-Session" not in refused.headers


def test_the_readmes_worked_example_verifies(app, demo):
    """The README gives a secret, the fields, the exact string and the hex: a shop developer
    reproduces them, and so does the server."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    secret = re.search(r"secret\s+`([0-9a-f]{64})`", readme).group(1)
    message = re.search(r'signs the 36 bytes\s+`(\["c42","kim@example.com",(\d+)\])`', readme)
    signature = re.search(r"signature\s+`([0-9a-f]{64})`", readme).group(1)
    stamp = int(message.group(2))
    assert sites.identity_message("c42", "kim@example.com", stamp).decode() == message.group(1)
    assert sign_identity(secret, "c42", "kim@example.com", stamp) == signature
    with app.app_context():
        site = sites.demo_site()
        site.identity_secret = secret
        db.session.commit()
        assert sites.verify_identity(site, "c42", "kim@example.com", str(stamp), signature, DAY, stamp + 60)
