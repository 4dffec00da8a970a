"""Attachments in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...) through boto3.

Every worker on every machine sees the same objects. The app streams them to
the browser itself (never a redirect to the bucket), so the same signed URL,
access check and protective headers apply whichever backend holds the bytes.
"""

from datetime import UTC

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from . import PREFIX, MissingObject, Storage, StorageUnavailable, check_key

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class S3Storage(Storage):
    def __init__(self, client, bucket):
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_config(cls, config):
        if not config.get("S3_BUCKET"):
            raise RuntimeError("ATTACHMENT_STORAGE=s3 needs S3_BUCKET (and S3_ENDPOINT_URL for non-AWS storage).")
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            region_name=config.get("S3_REGION"),
            aws_access_key_id=config.get("S3_ACCESS_KEY_ID"),
            aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY"),
            # A storage that does not answer must not hold a request for minutes.
            config=BotoConfig(connect_timeout=3, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"}),
        )
        return cls(client, config["S3_BUCKET"])

    def put(self, key, fileobj, content_type):
        try:
            self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=fileobj, ContentType=content_type)
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(str(error)) from error

    def open(self, key):
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise MissingObject(key) from None
            raise StorageUnavailable(str(error)) from error
        except BotoCoreError as error:
            raise StorageUnavailable(str(error)) from error
        return answer["Body"], answer["ContentLength"]

    def delete(self, keys):
        keys = [check_key(k) for k in keys]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except (BotoCoreError, ClientError) as error:
                raise StorageUnavailable(str(error)) from error

    def listing(self):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PREFIX)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"].astimezone(UTC).replace(tzinfo=None)
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(str(error)) from error
