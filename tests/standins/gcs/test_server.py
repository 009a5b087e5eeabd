"""The Cloud Storage stand-in, judged by Google's own client: multipart and chunked resumable uploads,
paged listing, ranged downloads, GCS's errors, and a wrong client checksum refused as GCS does."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from google.api_core import exceptions
from google.cloud import storage


@pytest.fixture
def bucket(endpoint: str, request: pytest.FixtureRequest) -> storage.Bucket:
    client = storage.Client(project="test", client_options={"api_endpoint": endpoint},
                            use_auth_w_custom_endpoint=False)
    return client.create_bucket(f"b-{request.node.name.replace('_', '-')[:50]}")


def test_multipart_and_chunked_resumable_uploads_round_trip(bucket: storage.Bucket, tmp_path: Path) -> None:
    # the client sends up to 8 MiB in one multipart request, more as a resumable upload in chunks
    small, large = os.urandom(70_000), os.urandom(9 * 1024 * 1024 + 123)
    bucket.blob("set/small.bin").upload_from_string(small)
    chunked = bucket.blob("set/large.bin", chunk_size=4 * 1024 * 1024)  # three PUTs, answered 308 until the last
    chunked.upload_from_string(large)
    assert bucket.blob("set/small.bin").download_as_bytes() == small
    bucket.blob("set/large.bin").download_to_filename(str(tmp_path / "large"))
    assert (tmp_path / "large").read_bytes() == large
    assert {b.name: b.size for b in bucket.client.list_blobs(bucket, prefix="set/")} == \
        {"set/small.bin": len(small), "set/large.bin": len(large)}
    assert bucket.blob("set/large.bin").download_as_bytes(start=10, end=19) == large[10:20]


def test_listing_pages_and_deleting(bucket: storage.Bucket) -> None:
    for i in range(5):
        bucket.blob(f"p/{i}").upload_from_string(b"x")
    bucket.blob("other/0").upload_from_string(b"x")
    pages = list(bucket.client.list_blobs(bucket, prefix="p/", page_size=2).pages)
    assert [len(list(page)) for page in pages] == [2, 2, 1]
    bucket.blob("p/3").delete()
    assert [b.name for b in bucket.client.list_blobs(bucket, prefix="p/")] == ["p/0", "p/1", "p/2", "p/4"]
    assert list(bucket.client.list_blobs(bucket, prefix="none/")) == []


def test_errors_are_gcs_errors(bucket: storage.Bucket) -> None:
    with pytest.raises(exceptions.NotFound, match="No such object"):
        bucket.blob("missing").download_as_bytes()
    with pytest.raises(exceptions.Conflict):
        bucket.client.create_bucket(bucket.name)
    with pytest.raises(exceptions.NotFound):
        bucket.client.bucket("no-such-bucket").blob("x").upload_from_string(b"x")


def test_an_upload_whose_checksum_disagrees_is_refused(bucket: storage.Bucket, endpoint: str) -> None:
    body = (b'--B\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name": "bad", "crc32c": "AAAAAA=="}'
            b"\r\n--B\r\nContent-Type: application/octet-stream\r\n\r\npayload\r\n--B--")
    response = httpx.post(f"{endpoint}/upload/storage/v1/b/{bucket.name}/o", params={"uploadType": "multipart"},
                          content=body, headers={"Content-Type": 'multipart/related; boundary="B"'})
    assert response.status_code == 400 and "doesn't match calculated CRC32C" in response.json()["error"]["message"]
    assert list(bucket.client.list_blobs(bucket)) == []  # nothing was stored
