"""A local S3-compatible server for tests: moto's server mode, as its own process on a spare port."""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from .live_server import free_port

BIN = os.path.dirname(sys.executable)
REGION = "us-east-1"
KEY_ID, SECRET = "test-key-id", "test-secret"


class S3Server:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self):
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("moto_server exited: " + open(self.log.name).read()[-2000:])
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("moto_server did not answer within 30 s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.unlink(self.log.name)

    def client(self):
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )

    def new_bucket(self):
        name = f"chat-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket):
        return sorted(item["Key"] for item in self.client().list_objects_v2(Bucket=bucket).get("Contents", []))

    def settings(self, bucket):
        """The app's settings for this server and bucket (as a deployment would set them)."""
        return {
            "ATTACHMENT_STORAGE": "s3",
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.url,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": KEY_ID,
            "S3_SECRET_ACCESS_KEY": SECRET,
        }
