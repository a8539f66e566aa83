"""Raw HTTP against ``berth registry serve``: refused uploads leave nothing, bad input is
a 4xx with the spec's code, concurrent uploads of one layer store one copy."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import Manifest

from .conftest import RegistryProcess, stored_blob_files

Start = Callable[..., RegistryProcess]


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".locks" not in p.parts}


def test_chunked_upload_with_a_wrong_digest_leaves_nothing(tmp_path: Path, start_registry: Start) -> None:
    server = start_registry()
    data = os.urandom(3 << 20)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        location = http.post("/v2/app/blobs/uploads/").headers["Location"]
        for start in range(0, len(data), 1 << 20):
            chunk = data[start : start + (1 << 20)]
            r = http.patch(location, content=chunk, headers={"Content-Range": f"{start}-{start + len(chunk) - 1}"})
            assert r.status_code == 202
            location = r.headers["Location"]
        r = http.put(location, params={"digest": str(Digest.from_bytes(data + b"!"))})
        assert (r.status_code, r.json()["errors"][0]["code"]) == (400, "DIGEST_INVALID")
        assert http.get(location).status_code == 404
        assert http.head(f"/v2/app/blobs/{Digest.from_bytes(data)}").status_code == 404
    assert stored_blob_files(server.storage) == []
    assert not any("_uploads/" in f and f.endswith("data") for f in files_under(server.storage))


def test_two_clients_uploading_one_layer_at_once(start_registry: Start) -> None:
    server = start_registry()
    data = os.urandom(8 << 20)
    digest = Digest.from_bytes(data)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def push(repo: str) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            location = http.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
            barrier.wait()
            half = len(data) // 2
            location = http.patch(location, content=data[:half], headers={"Content-Range": f"0-{half - 1}"}).headers["Location"]
            statuses.append(http.put(location, params={"digest": str(digest)}, content=data[half:]).status_code)

    threads = [threading.Thread(target=push, args=(repo,)) for repo in ("one", "two", "one", "three")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 4
    assert [p.parent.name for p in stored_blob_files(server.storage)] == [digest.encoded]
    with httpx.Client(base_url=server.url) as http:
        for repo in ("one", "two", "three"):
            assert http.get(f"/v2/{repo}/blobs/{digest}").content == data


def _manifest_naming(digest: Digest, size: int) -> bytes:
    config = Descriptor(mt.OCI_CONFIG, digest, size)
    return Manifest(mt.OCI_MANIFEST, config, ()).to_bytes()


def test_bad_input_is_4xx_and_never_escapes_the_storage(tmp_path: Path, start_registry: Start) -> None:
    storage = tmp_path / "deep" / "storage"
    server = start_registry(storage=storage)
    outside_before = files_under(tmp_path)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        config = b"{}"
        r = http.post("/v2/app/blobs/uploads/", params={"digest": str(Digest.from_bytes(config))}, content=config)
        assert r.status_code == 201
        location = http.post("/v2/app/blobs/uploads/").headers["Location"]
        cases: list[tuple[str, str, dict[str, str], bytes, int, str]] = [
            ("PUT", "/v2/app/manifests/v1", {"Content-Type": mt.OCI_MANIFEST}, b"{{{", 400, "MANIFEST_INVALID"),
            ("PUT", "/v2/app/manifests/v1", {"Content-Type": "text/plain"}, b'{"schemaVersion":2,"mediaType":"text/plain"}', 400, "MANIFEST_INVALID"),
            ("PUT", "/v2/app/manifests/v1", {"Content-Type": mt.DOCKER_MANIFEST}, _manifest_naming(Digest.from_bytes(config), 2), 400, "MANIFEST_INVALID"),
            ("PUT", "/v2/app/manifests/v1", {"Content-Type": mt.OCI_MANIFEST}, _manifest_naming(Digest.from_bytes(b"gone"), 4), 400, "MANIFEST_BLOB_UNKNOWN"),
            ("PATCH", location, {"Content-Range": "0-18446744073709551615"}, b"x", 416, "RANGE_INVALID"),
            ("PATCH", location, {"Content-Range": "-1-5"}, b"x", 416, "RANGE_INVALID"),
            ("PATCH", location, {"Content-Range": "99999999999-99999999999"}, b"x", 416, "RANGE_INVALID"),
            ("GET", "/v2/Bad_Name/tags/list", {}, b"", 400, "NAME_INVALID"),
            ("PUT", "/v2/app/manifests/%2e%2e", {"Content-Type": mt.OCI_MANIFEST}, b"{}", 400, "TAG_INVALID"),
            ("PUT", "/v2/app/manifests/%2e%2e%2fx", {"Content-Type": mt.OCI_MANIFEST}, b"{}", 400, "TAG_INVALID"),
            ("POST", "/v2/..%2f..%2fescape/blobs/uploads/", {}, b"", 400, "NAME_INVALID"),
            ("GET", "/v2/app/blobs/sha256:%2e%2e%2f%2e%2e%2fetc%2fpasswd", {}, b"", 400, "DIGEST_INVALID"),
            ("GET", "/v2/app/blobs/uploads/..%2f..%2f..", {}, b"", 404, "BLOB_UPLOAD_UNKNOWN"),
            ("POST", "/v2/app/blobs/uploads/", {}, b"", 0, ""),  # a baseline that must work
        ]
        for method, path, headers, body, status, code in cases:
            r = http.request(method, path, headers=headers, content=body)
            if status == 0:
                assert r.status_code == 202
                continue
            assert (r.status_code, r.json()["errors"][0]["code"]) == (status, code), (method, path, r.text)
    for raw in ("/v2/../../../../tmp/escape/blobs/uploads/", "/v2/a/../../../escape/manifests/latest"):
        host, port = server.host.split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"POST {raw} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            status = int(sock.recv(1024).split()[1])
        assert 400 <= status < 500
    created = files_under(tmp_path) - outside_before
    assert all(f.startswith("deep/storage/") for f in created), created
    assert not os.path.exists("/tmp/escape")


@pytest.mark.parametrize("length", [0, 1, 1 << 20])
def test_single_post_uploads_of_any_size(start_registry: Start, length: int) -> None:
    server = start_registry()
    data = os.urandom(length)
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/v2/app/blobs/uploads/", params={"digest": str(Digest.from_bytes(data))}, content=data)
        assert r.status_code == 201
        assert http.get(r.headers["Location"]).content == data
