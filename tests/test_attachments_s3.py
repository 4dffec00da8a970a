"""The S3 backend against a local S3-compatible server (moto's server mode, its own process)."""

import io
import json
import zipfile

import pytest
from PIL import Image

from chat.models import MessageAttachment

from . import files
from .chat_helpers import count, first_product_id
from .live_server import free_port
from .s3_server import S3Server
from .test_attachments import api_send, fetch


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3):
    return s3.new_bucket()


@pytest.fixture
def app_config(s3, bucket):
    return s3.settings(bucket)


@pytest.fixture
def pid(app, demo):
    return first_product_id(app)


def test_files_are_stored_in_the_bucket_and_served_from_it(app, pid, s3, bucket):
    client = app.test_client(use_cookies=False)
    response = api_send(
        client, pid, text="s3", upload=[(files.jpeg_with_gps(800, 600), "photo.jpg"), (files.pdf(), "a.pdf")]
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    photo, document = response.get_json()["attachments"]
    keys = s3.keys(bucket)
    assert len(keys) == 3 and all(key.startswith("att/") for key in keys)  # photo, thumbnail, PDF
    served = fetch(client, photo["url"])
    assert served.status_code == 200 and not Image.open(io.BytesIO(served.data)).getexif()
    assert fetch(client, document["url"]).data == files.pdf()
    stored = s3.client().get_object(Bucket=bucket, Key=sorted(k for k in keys if "thumb" not in k)[0])
    assert stored["ContentType"] in ("image/jpeg", "application/pdf")


def test_export_and_erase_with_s3(app, pid, s3, bucket, admin):
    client = app.test_client(use_cookies=False)
    sent = api_send(client, pid, text="mine", upload=[(files.pdf(), "receipt.pdf")])
    inquiry_id = sent.get_json()["inquiry_id"]
    panel, csrf, _ = admin
    archive = zipfile.ZipFile(io.BytesIO(panel.get(f"/admin/inquiries/{inquiry_id}/customer/export.zip").data))
    entry = json.loads(archive.read("customer.json"))["inquiries"][0]["messages"][0]["attachments"][0]
    assert archive.read(entry["file"]) == files.pdf()
    panel.post(f"/admin/inquiries/{inquiry_id}/customer/erase", data={"csrf_token": csrf, "confirm": "erase"})
    assert s3.keys(bucket) == [] and count(app, MessageAttachment) == 0


@pytest.fixture
def sweep_now(app_config):
    app_config["ATTACHMENT_ORPHAN_MINUTES"] = 0  # S3 sets LastModified itself: every object is old enough
    return app_config


def test_the_sweep_deletes_orphans_from_the_bucket(sweep_now, app, pid, s3, bucket, runner):
    client = app.test_client(use_cookies=False)
    api_send(client, pid, text="kept", upload=[(files.png(), "kept.png")])
    named = s3.keys(bucket)
    s3.client().put_object(Bucket=bucket, Key="att/202601/" + "0" * 32, Body=b"left by a send that died")
    result = runner.invoke(args=["chat", "sweep-attachments"])
    assert result.output.strip() == "Deleted 1 orphaned file(s)."
    assert s3.keys(bucket) == named


def test_a_missing_object_is_file_unavailable(app, pid, s3, bucket):
    client = app.test_client(use_cookies=False)
    (attachment,) = api_send(client, pid, text="gone", upload=[(files.jpeg(), "gone.jpg")]).get_json()["attachments"]
    for key in s3.keys(bucket):
        s3.client().delete_object(Bucket=bucket, Key=key)
    thumbnail = fetch(client, attachment["thumbnail_url"])
    assert thumbnail.status_code == 404 and b"File unavailable" in thumbnail.data
    assert fetch(client, attachment["url"]).status_code == 404


@pytest.fixture
def unreachable(app_config):
    app_config["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return app_config


def test_storage_down_is_a_clear_503_and_nothing_half_written(unreachable, app, pid):
    client = app.test_client(use_cookies=False)
    response = api_send(client, pid, text="now?", upload=[(files.jpeg(), "a.jpg")])
    assert response.status_code == 503
    assert "could not store your file" in response.get_json()["error"]
    assert count(app, MessageAttachment) == 0
    from chat.models import ProductMessage

    assert count(app, ProductMessage) == 0
