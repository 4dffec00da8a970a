"""Files with messages: what is stored and served, what is refused, who may see them."""

import io
import json
import re
import uuid
import zipfile

import pytest
import sqlalchemy as sa
from PIL import Image

from chat import storage
from chat.extensions import db
from chat.models import MessageAttachment, ProductInquiry, ProductMessage

from . import files
from .chat_helpers import Shopper, count, first_product_id

MB = 1024 * 1024


@pytest.fixture
def pid(app, demo):
    return first_product_id(app)


def api_send(client, pid, token="", text=None, upload=(), client_id=None):
    """A multipart send through the customer API: ``upload`` is (bytes, filename) pairs."""
    data = {"client_message_id": client_id or str(uuid.uuid4())}
    if text is not None:
        data["message_text"] = text
    data["files"] = [(io.BytesIO(content), name) for content, name in upload]
    return client.post(
        f"/api/products/{pid}/messages",
        data=data,
        content_type="multipart/form-data",
        headers={"X-Chat-Session": token},
    )


def fetch(client, url, **kwargs):
    """GET a URL the API handed out (absolute, on PUBLIC_BASE_URL) from the test client."""
    return client.get("/" + url.split("://", 1)[1].split("/", 1)[1], **kwargs)


def stored_objects(app):
    with app.app_context():
        return sorted(key for key, _ in storage.current().listing())


def stored_bytes(app, key):
    with app.app_context():
        return storage.current().read(key)


def attachment_rows(app):
    with app.app_context():
        return db.session.scalars(sa.select(MessageAttachment).order_by(MessageAttachment.id)).all()


def test_a_phone_photo_loses_its_gps_and_metadata_and_stands_upright(app, pid):
    original = files.jpeg_with_gps(640, 480, orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture carries GPS
    client = app.test_client(use_cookies=False)
    response = api_send(client, pid, text="It arrived broken", upload=[(original, "IMG_0042.JPG")])
    assert response.status_code == 201, response.get_data(as_text=True)
    (attachment,) = response.get_json()["attachments"]
    # Rotated upright (orientation 6 turns 640×480 into 480×640) and named for what is stored.
    assert (attachment["width"], attachment["height"]) == (480, 640)
    assert attachment["filename"] == "IMG_0042.jpg" and attachment["content_type"] == "image/jpeg"
    served = fetch(client, attachment["url"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    (row,) = attachment_rows(app)
    for data in (served.data, stored_bytes(app, row.storage_key), fetch(client, attachment["thumbnail_url"]).data):
        image = Image.open(io.BytesIO(data))
        assert not image.getexif(), "no EXIF at all (GPS, camera, orientation)"
        assert not set(image.info) & {"exif", "xmp", "icc_profile", "comment"}
        assert b"PhoneMaker" not in data and b"Exif" not in data and b"taken at home" not in data
    upright = Image.open(io.BytesIO(served.data)).convert("RGB")
    # The blue corner was top-left before the turn: after rotating 90° clockwise it is top-right.
    assert upright.getpixel((upright.width - 10, 10))[2] > 150 and upright.getpixel((10, 10))[0] > 150


def test_a_thumbnail_is_at_most_480_pixels(app, pid):
    client = app.test_client(use_cookies=False)
    response = api_send(client, pid, text="two", upload=[(files.jpeg(2000, 1000), "wide.jpg")])
    (attachment,) = response.get_json()["attachments"]
    thumbnail = Image.open(io.BytesIO(fetch(client, attachment["thumbnail_url"]).data))
    assert thumbnail.size == (480, 240)
    assert Image.open(io.BytesIO(fetch(client, attachment["url"]).data)).size == (2000, 1000)


@pytest.mark.parametrize("side", [12_000, 40_000], ids=["past-the-limit", "past-twice-the-limit"])
def test_a_pixel_bomb_is_422_and_nothing_is_stored(app, pid, side):
    client = app.test_client(use_cookies=False)
    response = api_send(client, pid, text="look", upload=[(files.pixel_bomb(side), "bomb.png")])
    assert response.status_code == 422
    body = response.get_json()
    assert body["fields"] == {"files[0]": "bomb.png has too many pixels to be opened safely."}
    assert count(app, ProductMessage) == 0 and stored_objects(app) == []


def test_html_named_jpg_is_415(app, pid):
    client = app.test_client(use_cookies=False)
    response = api_send(client, pid, text="see", upload=[(files.HTML_AS_JPG, "cat.jpg")])
    assert response.status_code == 415
    assert "cat.jpg is not a picture" in response.get_json()["fields"]["files[0]"]
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0 and stored_objects(app) == []


def test_a_file_one_byte_over_the_limit_is_413_and_one_at_it_is_stored(app, pid):
    client = app.test_client(use_cookies=False)
    at_limit = files.pdf().ljust(10 * MB, b" ")
    too_large = at_limit + b" "
    response = api_send(client, pid, text="manual", upload=[(too_large, "manual.pdf")])
    assert response.status_code == 413
    assert response.get_json()["fields"] == {"files[0]": "manual.pdf is larger than 10 MB (files can be at most that)."}
    assert count(app, ProductMessage) == 0
    response = api_send(client, pid, text="manual", upload=[(at_limit, "manual.pdf")])
    assert response.status_code == 201 and response.get_json()["attachments"][0]["size"] == 10 * MB


def test_every_refused_file_is_named_at_once(app, pid):
    client = app.test_client(use_cookies=False)
    response = api_send(
        client,
        pid,
        text="three",
        upload=[(files.jpeg(), "fine.jpg"), (files.HTML_AS_JPG, "page.jpg"), (b"MZ\x90\x00", "setup.exe")],
    )
    assert response.status_code == 415
    assert set(response.get_json()["fields"]) == {"files[1]", "files[2]"}
    assert stored_objects(app) == []


def test_at_most_five_files_per_message(app, pid):
    client = app.test_client(use_cookies=False)
    response = api_send(client, pid, text="six", upload=[(files.png(), f"{n}.png") for n in range(6)])
    assert response.status_code == 422 and response.get_json()["fields"] == {"files": "at most 5 files"}


def test_a_message_may_be_only_files_but_not_empty(app, pid):
    client = app.test_client(use_cookies=False)
    only = api_send(client, pid, upload=[(files.png(), "a.png")])
    assert only.status_code == 201 and only.get_json()["message_text"] == ""
    empty = api_send(client, pid, text="  ", upload=())
    assert empty.status_code == 422


def test_a_retry_with_the_same_client_id_stores_one_message_with_its_files(app, pid):
    client = app.test_client(use_cookies=False)
    client_id = str(uuid.uuid4())
    upload = [(files.jpeg(), "one.jpg"), (files.pdf(), "two.pdf")]
    first = api_send(client, pid, text="both", upload=upload, client_id=client_id)
    token = first.headers["X-Chat-Session"]
    objects = stored_objects(app)
    again = api_send(client, pid, token=token, text="both", upload=upload, client_id=client_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert [a["id"] for a in again.get_json()["attachments"]] == [a["id"] for a in first.get_json()["attachments"]]
    assert count(app, ProductMessage) == 1 and count(app, MessageAttachment) == 2
    # The retry's own copies were deleted: only the first send's objects remain.
    assert stored_objects(app) == objects and len(objects) == 3  # photo, its thumbnail, the PDF


def test_heic_becomes_jpeg_and_a_gif_keeps_its_first_frame(app, pid):
    client = app.test_client(use_cookies=False)
    response = api_send(
        client, pid, text="formats", upload=[(files.heic(), "IMG_1.HEIC"), (files.gif_two_frames(), "blink.gif")]
    )
    heic, gif = response.get_json()["attachments"]
    assert (heic["content_type"], heic["filename"]) == ("image/jpeg", "IMG_1.jpg")
    assert Image.open(io.BytesIO(fetch(client, heic["url"]).data)).format == "JPEG"
    assert (gif["content_type"], gif["filename"]) == ("image/png", "blink.png")
    frame = Image.open(io.BytesIO(fetch(client, gif["url"]).data))
    assert frame.format == "PNG" and frame.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_a_pdf_is_stored_as_given_and_served_as_a_sandboxed_download(app, pid):
    client = app.test_client(use_cookies=False)
    document = files.pdf()
    (attachment,) = api_send(client, pid, text="manual", upload=[(document, "Manual (EN).pdf")]).get_json()[
        "attachments"
    ]
    assert attachment["thumbnail_url"] is None and attachment["width"] is None
    served = fetch(client, attachment["url"])
    assert served.data == document and served.mimetype == "application/pdf"
    assert served.headers["Content-Disposition"] == 'attachment; filename="Manual (EN).pdf"'
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_file_names_are_text_not_paths(app, pid):
    client = app.test_client(use_cookies=False)
    names = ["../../etc/passwd.png", "photos/scratch.png", "<img src=x onerror=alert(1)>.png", "gpj\u202e.png"]
    response = api_send(client, pid, text="names", upload=[(files.png(), name) for name in names])
    assert [a["filename"] for a in response.get_json()["attachments"]] == [
        "passwd.png",
        "scratch.png",
        "<img src=x onerror=alert(1)>.png",
        "gpj.png",
    ]
    assert all(re.match(r"^att/\d{6}/[0-9a-f]{32}", row.storage_key) for row in attachment_rows(app))
    shopper_html = Shopper(app)
    shopper_html.token = response.headers["X-Chat-Session"]
    with app.app_context():
        from chat.models import Product

        external_id = db.session.get(Product, pid).external_id
    page = shopper_html.conversation(external_id)
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in page and "<img src=x" not in page


# -- who may fetch a file -----------------------------------------------------------


def test_another_session_cannot_fetch_the_file(app, pid):
    owner = app.test_client(use_cookies=False)
    sent = api_send(owner, pid, text="mine", upload=[(files.jpeg(), "mine.jpg")])
    (attachment,) = sent.get_json()["attachments"]
    stranger = app.test_client(use_cookies=False)
    their = api_send(stranger, pid, text="theirs", upload=[(files.png(), "theirs.png")])
    stranger_token = their.headers["X-Chat-Session"]
    # The stranger's own listing never names the owner's file...
    listing = stranger.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": stranger_token}).get_json()
    assert [a["filename"] for m in listing["messages"] for a in m["attachments"]] == ["theirs.png"]
    # ...a stranger presenting their session with the owner's URL is turned away...
    assert fetch(stranger, attachment["url"], headers={"X-Chat-Session": stranger_token}).status_code == 404
    # ...and their own URL's signature does not open another file.
    their_url = their.get_json()["attachments"][0]["url"]
    forged = re.sub(r"/attachments/\d+", f"/attachments/{attachment['id']}", their_url)
    assert fetch(stranger, forged).status_code == 403
    # The owner (or their widget's <img>, which sends no header) gets it.
    assert (
        fetch(owner, attachment["url"], headers={"X-Chat-Session": sent.headers["X-Chat-Session"]}).status_code == 200
    )
    assert fetch(app.test_client(), attachment["url"]).status_code == 200


def test_an_expired_or_altered_signature_is_403(app, pid):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    client = app.test_client(use_cookies=False)
    (attachment,) = api_send(client, pid, text="old", upload=[(files.jpeg(), "old.jpg")]).get_json()["attachments"]
    lifetime = app.config["CHAT_ATTACHMENT_URL_SECONDS"]

    class Earlier(TimestampSigner):
        def get_timestamp(self):
            return super().get_timestamp() - lifetime - 5

    # The same URL, as it was handed out just over its lifetime ago.
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="attachment-url", signer=Earlier).dumps(
        [attachment["id"], 1, "c"]
    )
    expired = client.get(f"/attachments/{attachment['id']}?t={token}")
    assert expired.status_code == 403 and "expired" in expired.get_data(as_text=True)
    altered = attachment["url"][:-3] + ("AAA" if not attachment["url"].endswith("AAA") else "BBB")
    assert fetch(client, altered).status_code == 403
    assert client.get(f"/attachments/{attachment['id']}").status_code == 403


def test_ending_the_shoppers_sessions_ends_their_links(app, pid, admin):
    client = app.test_client(use_cookies=False)
    sent = api_send(client, pid, text="bye", upload=[(files.jpeg(), "a.jpg")])
    url = sent.get_json()["attachments"][0]["url"]
    assert fetch(client, url).status_code == 200
    panel, csrf, _ = admin
    inquiry_id = sent.get_json()["inquiry_id"]
    panel.post(f"/admin/inquiries/{inquiry_id}/customer/revoke", data={"csrf_token": csrf})
    assert fetch(client, url).status_code == 403


def admin_urls(panel, inquiry_id):
    page = panel.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/attachments/[^"]+)"', page)


def test_the_admin_sees_files_inline_and_a_logged_out_admin_gets_403(app, pid, admin):
    client = app.test_client(use_cookies=False)
    sent = api_send(client, pid, text="scratch", upload=[(files.jpeg(), "scratch.jpg")])
    panel, csrf, _ = admin
    urls = [u.replace("&amp;", "&") for u in admin_urls(panel, sent.get_json()["inquiry_id"])]
    assert len(urls) == 2 and any("/thumbnail?" in u for u in urls)
    assert all(panel.get(u).status_code == 200 for u in urls)
    # Nobody else can use the admin's URLs: not a shopper, not the admin once logged out.
    assert all(app.test_client().get(u).status_code == 403 for u in urls)
    panel.post("/admin/logout", data={"csrf_token": csrf})
    assert all(panel.get(u).status_code == 403 for u in urls)


def test_an_api_token_fetches_the_admin_api_urls(app, pid, admin):
    client = app.test_client(use_cookies=False)
    sent = api_send(client, pid, text="scratch", upload=[(files.png(), "scratch.png")])
    with app.app_context():
        from chat.models import User
        from chat.services import admin_tokens

        token = admin_tokens.create(db.session.scalar(sa.select(User).order_by(User.id)), "script")
    auth = {"Authorization": f"Bearer {token}"}
    inquiry = client.get(f"/api/admin/inquiries/{sent.get_json()['inquiry_id']}", headers=auth).get_json()
    (attachment,) = inquiry["messages"][0]["attachments"]
    assert fetch(client, attachment["url"], headers=auth).status_code == 200
    assert fetch(client, attachment["url"]).status_code == 403


# -- answers, previews, search, mails -------------------------------------------------


def test_an_admin_answers_with_a_file_from_the_panel_and_the_api(app, pid, admin):
    shopper = app.test_client(use_cookies=False)
    sent = api_send(shopper, pid, text="which one?", upload=[(files.jpeg(), "q.jpg")])
    token = sent.headers["X-Chat-Session"]
    inquiry_id = sent.get_json()["inquiry_id"]
    panel, csrf, _ = admin
    answered = panel.post(
        f"/admin/inquiries/{inquiry_id}/messages",
        data={
            "csrf_token": csrf,
            "client_message_id": str(uuid.uuid4()),
            "files": [(io.BytesIO(files.pdf()), "size-chart.pdf")],
        },
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert answered.status_code == 201 and "size-chart.pdf" in answered.get_data(as_text=True)
    api = panel.post(
        f"/api/admin/inquiries/{inquiry_id}/respond",
        data={"message_text": "this one", "files": [(io.BytesIO(files.png()), "this.png")]},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": csrf},
    )
    assert api.status_code == 201 and api.get_json()["attachments"][0]["filename"] == "this.png"
    listing = shopper.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": token}).get_json()
    names = [[a["filename"] for a in m["attachments"]] for m in listing["messages"]]
    assert names == [["q.jpg"], ["size-chart.pdf"], ["this.png"]]
    # The shopper's URLs work for them.
    assert fetch(shopper, listing["messages"][1]["attachments"][0]["url"]).status_code == 200


def test_the_list_preview_says_photo_and_search_finds_file_names(app, pid, admin):
    client = app.test_client(use_cookies=False)
    api_send(client, pid, upload=[(files.jpeg(), "cracked-lens.jpg")])
    panel, _, _ = admin

    def previews(page):
        return [
            " ".join(re.sub(r"<[^>]+>", " ", p).split())
            for p in re.findall(r'<span class="preview">(.*?)</span></td>', page, re.S)
        ]

    assert previews(panel.get("/admin?status=all").get_data(as_text=True)) == ["Attached: photo"]
    assert previews(panel.get("/admin?status=all&q=cracked").get_data(as_text=True)) == ["Attached: photo"]
    assert previews(panel.get("/admin?status=all&q=unrelatedword").get_data(as_text=True)) == []
    # Where only words fit (the JSON list, notifications): "📎 photo".
    token = None
    with app.app_context():
        from chat.models import User
        from chat.services import admin_tokens

        token = admin_tokens.create(db.session.scalar(sa.select(User).order_by(User.id)), "list")
    listed = panel.get("/api/admin/inquiries?status=all", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert listed["inquiries"][0]["last_message"]["attachments"][0]["filename"] == "cracked-lens.jpg"


def test_an_answer_mail_links_to_the_chat_never_to_the_file(app, pid, admin):
    from datetime import timedelta

    from chat.models import OutboxEmail, utcnow
    from chat.services import notifications

    client = app.test_client(use_cookies=False)
    sent = client.post(
        f"/api/products/{pid}/messages",
        data=json.dumps({"message_text": "mail me", "customer_email": "s@example.com", "email_consent": True}),
        content_type="application/json",
        headers={"X-Chat-Session": ""},
    )
    inquiry_id = sent.get_json()["inquiry_id"]
    panel, csrf, _ = admin
    panel.post(
        f"/api/admin/inquiries/{inquiry_id}/respond",
        data={"files": [(io.BytesIO(files.jpeg()), "answer.jpg")]},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": csrf},
    )
    with app.app_context():
        notifications.scan(now=utcnow() + timedelta(hours=1))
        mail = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_addr == "s@example.com"))
        assert mail is not None
        for body in (mail.body_text, mail.body_html):
            assert "/attachments/" not in body and "answer.jpg" not in body
            assert "photo" in body and "#productchat-resume=" in body


# -- erase, purge, export, sweep --------------------------------------------------------


def test_export_zip_holds_the_json_and_the_files(app, pid, admin):
    client = app.test_client(use_cookies=False)
    photo, document = files.jpeg(), files.pdf()
    sent = api_send(client, pid, text="here", upload=[(photo, "photo.jpg"), (document, "receipt.pdf")])
    inquiry_id = sent.get_json()["inquiry_id"]
    panel, _, _ = admin
    response = panel.get(f"/admin/inquiries/{inquiry_id}/customer/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("customer.json"))
    entries = data["inquiries"][0]["messages"][0]["attachments"]
    assert [e["filename"] for e in entries] == ["photo.jpg", "receipt.pdf"]
    assert archive.read(entries[1]["file"]) == document
    (row,) = [r for r in attachment_rows(app) if r.filename == "photo.jpg"]
    assert archive.read(entries[0]["file"]) == stored_bytes(app, row.storage_key)
    assert sorted(archive.namelist()) == sorted(["customer.json", entries[0]["file"], entries[1]["file"]])


def test_erase_deletes_the_files(app, pid, admin):
    client = app.test_client(use_cookies=False)
    keep = api_send(app.test_client(use_cookies=False), pid, text="other", upload=[(files.png(), "keep.png")])
    sent = api_send(client, pid, text="gone", upload=[(files.jpeg(), "a.jpg"), (files.pdf(), "b.pdf")])
    url = sent.get_json()["attachments"][0]["url"]
    kept_objects = {r.storage_key for r in attachment_rows(app) if r.filename == "keep.png"}
    panel, csrf, _ = admin
    panel.post(
        f"/admin/inquiries/{sent.get_json()['inquiry_id']}/customer/erase",
        data={"csrf_token": csrf, "confirm": "erase"},
    )
    assert set(stored_objects(app)) == kept_objects
    assert fetch(client, url).status_code in (403, 404)
    assert fetch(client, keep.get_json()["attachments"][0]["url"]).status_code == 200


def test_purge_deletes_the_files_of_old_conversations(app, pid, runner):
    from datetime import timedelta

    from chat.models import utcnow

    client = app.test_client(use_cookies=False)
    sent = api_send(client, pid, text="old", upload=[(files.jpeg(), "old.jpg")])
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, sent.get_json()["inquiry_id"])
        inquiry.status = "closed"
        inquiry.updated_at = utcnow() - timedelta(days=400)
        db.session.commit()
    result = runner.invoke(args=["chat", "purge"])
    assert "1 files" in result.output, result.output
    assert stored_objects(app) == [] and count(app, MessageAttachment) == 0


def test_the_sweep_deletes_old_orphans_only(app, pid, runner):
    import os
    import time

    client = app.test_client(use_cookies=False)
    api_send(client, pid, text="kept", upload=[(files.jpeg(), "kept.jpg")])
    named = stored_objects(app)
    with app.app_context():
        target = storage.current()
        old_orphan, new_orphan = storage.new_key(), storage.new_key()
        for key in (old_orphan, new_orphan):
            target.put(key, io.BytesIO(b"left behind"), "image/jpeg")
        # As a send that died two hours ago left it (the sweep goes by the object's age).
        two_hours_ago = time.time() - 7200
        os.utime(target._path(old_orphan), (two_hours_ago, two_hours_ago))
        for key in named:
            os.utime(target._path(key), (two_hours_ago, two_hours_ago))
    result = runner.invoke(args=["chat", "sweep-attachments"])
    assert result.output.strip() == "Deleted 1 orphaned file(s)."
    assert stored_objects(app) == sorted(named + [new_orphan])


def test_a_missing_object_shows_file_unavailable_never_a_500(app, pid, admin):
    client = app.test_client(use_cookies=False)
    sent = api_send(client, pid, text="lost", upload=[(files.jpeg(), "lost.jpg")])
    (attachment,) = sent.get_json()["attachments"]
    with app.app_context():
        storage.current().delete(stored_objects(app))
    thumbnail = fetch(client, attachment["thumbnail_url"])
    assert thumbnail.status_code == 404 and b"File unavailable" in thumbnail.data
    assert thumbnail.mimetype == "image/svg+xml"
    download = fetch(client, attachment["url"])
    assert download.status_code == 404 and "File unavailable" in download.get_data(as_text=True)
    panel, _, _ = admin
    assert panel.get(f"/admin/inquiries/{sent.get_json()['inquiry_id']}").status_code == 200


# -- the widget -----------------------------------------------------------------------


def test_the_widget_sends_a_photo_and_shows_it(app, pid):
    shopper = Shopper(app)
    with app.app_context():
        from chat.models import Product

        external_id = db.session.get(Product, pid).external_id
    response = shopper.post(
        f"/products/{external_id}/messages",
        data={"client_message_id": str(uuid.uuid4()), "files": [(io.BytesIO(files.jpeg()), "box.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    assert 'alt="box.jpg"' in html and "/thumbnail?t=" in html
    thumbnail = re.search(r'src="(/attachments/[^"]+)"', html).group(1).replace("&amp;", "&")
    assert app.test_client().get(thumbnail).status_code == 200
    assert 'alt="box.jpg"' in shopper.conversation(external_id)


def test_the_widget_names_the_refused_file(app, pid):
    shopper = Shopper(app)
    with app.app_context():
        from chat.models import Product

        external_id = db.session.get(Product, pid).external_id
    response = shopper.post(
        f"/products/{external_id}/messages",
        data={
            "message_text": "two",
            "client_message_id": str(uuid.uuid4()),
            "files": [(io.BytesIO(files.jpeg()), "fine.jpg"), (io.BytesIO(files.HTML_AS_JPG), "evil.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 415
    html = response.get_data(as_text=True)
    assert 'data-field="files[1]"' in html and "evil.jpg is not a picture" in html


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "CHAT_ATTACHMENT_FILES_PER_HOUR": 3}])
def test_files_count_toward_the_hourly_budget(app, pid):
    client = app.test_client(use_cookies=False)
    first = api_send(client, pid, text="two", upload=[(files.png(), "1.png"), (files.png(), "2.png")])
    token = first.headers["X-Chat-Session"]
    objects = stored_objects(app)
    refused = api_send(
        client, pid, token=token, text="two more", upload=[(files.png(), "3.png"), (files.png(), "4.png")]
    )
    assert refused.status_code == 429
    assert list(refused.get_json()["fields"]) == ["files[1]"]
    assert "3 files in the last hour" in refused.get_json()["fields"]["files[1]"]
    assert stored_objects(app) == objects and count(app, ProductMessage) == 1
    # A refused send spent nothing: one more file still fits.
    assert api_send(client, pid, token=token, text="one", upload=[(files.png(), "3.png")]).status_code == 201
    # Another shopper has a budget of their own.
    assert (
        api_send(app.test_client(use_cookies=False), pid, text="mine", upload=[(files.png(), "x.png")]).status_code
        == 201
    )


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "CHAT_ATTACHMENT_BYTES_PER_HOUR": 500_000}])
def test_bytes_count_toward_the_hourly_budget(app, pid):
    client = app.test_client(use_cookies=False)
    big = files.pdf().ljust(300_000, b" ")
    first = api_send(client, pid, text="one", upload=[(big, "a.pdf")])
    assert first.status_code == 201
    refused = api_send(client, pid, token=first.headers["X-Chat-Session"], text="two", upload=[(big, "b.pdf")])
    assert refused.status_code == 429 and "of files in the last hour" in refused.get_json()["fields"]["files[0]"]


def test_polling_brings_the_photo_too(app, pid, admin):
    shopper = Shopper(app)
    with app.app_context():
        from chat.models import Product

        external_id = db.session.get(Product, pid).external_id
    first = shopper.send(external_id, "hello")
    last_id = int(re.search(r'id="msg-(\d+)"', first.get_data(as_text=True)).group(1))
    panel, csrf, _ = admin
    with app.app_context():
        inquiry_id = db.session.scalar(sa.select(ProductInquiry.id))
    panel.post(
        f"/api/admin/inquiries/{inquiry_id}/respond",
        data={"message_text": "like this?", "files": [(io.BytesIO(files.jpeg()), "example.jpg")]},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": csrf},
    )
    polled = shopper.get(f"/products/{external_id}/messages?after={last_id}").get_data(as_text=True)
    assert 'alt="example.jpg"' in polled and "like this?" in polled
    thumbnail = re.search(r'src="(/attachments/[^"]+)"', polled).group(1).replace("&amp;", "&")
    assert app.test_client().get(thumbnail).status_code == 200


@pytest.fixture
def unwritable_folder(app_config, tmp_path):
    # A file where the folder should be: nothing can be stored under it (not even by root).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    app_config["ATTACHMENT_FOLDER"] = str(blocker)
    return blocker


def test_a_storage_that_cannot_be_written_is_a_clear_503(unwritable_folder, app, pid):
    response = api_send(app.test_client(use_cookies=False), pid, text="now?", upload=[(files.png(), "a.png")])
    assert response.status_code == 503 and "could not store your file" in response.get_json()["error"]
    assert count(app, ProductMessage) == 0
