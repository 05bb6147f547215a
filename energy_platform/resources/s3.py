"""S3: the lake bucket (raw input, quarantine, staging, silver, gold, reports)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from energy_platform.resources.clients import AwsResource, bucket_field
from energy_platform.settings import get_settings


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object."""

    key: str
    size: int
    etag: str
    last_modified: datetime


class LakeStorage(AwsResource):
    """Reads and writes objects of the platform's one bucket (`ENERGY_BUCKET`)."""

    service = "s3"

    bucket: str = bucket_field()

    def put_bytes(
        self, key: str, body: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def head(self, key: str) -> ObjectInfo | None:
        """The object's metadata, or None when it does not exist."""
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key, r["ContentLength"], r["ETag"].strip('"'), r["LastModified"])

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under `prefix`, all pages."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                yield ObjectInfo(o["Key"], o["Size"], o["ETag"].strip('"'), o["LastModified"])

    def delete_keys(self, keys: Iterable[str]) -> int:
        """Delete keys, 1,000 per request; returns how many were asked for."""
        keys = list(keys)
        for i in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
        return len(keys)

    def write_parquet(self, key: str, table: pa.Table) -> int:
        """Write `table` as one Parquet object; returns its size in bytes."""
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        body = buf.getvalue()
        self.put_bytes(key, body)
        return len(body)

    def read_parquet(self, key: str) -> pa.Table | None:
        """The Parquet object at `key`, or None when there is none."""
        try:
            body = self.get_bytes(key)
        except self.client.exceptions.NoSuchKey:
            return None
        return pq.read_table(io.BytesIO(body))

    def filesystem(self) -> pafs.S3FileSystem:
        """pyarrow's S3 filesystem for this bucket's region, at `AWS_ENDPOINT_URL` when set
        (how the report reads the lake with Arrow datasets)."""
        endpoint_url = get_settings().endpoint_url
        if not endpoint_url:
            return pafs.S3FileSystem(region=self.region)
        endpoint = urlparse(endpoint_url)
        return pafs.S3FileSystem(
            region=self.region,
            scheme=endpoint.scheme or "https",
            endpoint_override=endpoint.netloc or endpoint.path,
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
