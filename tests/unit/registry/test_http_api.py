"""The HTTP API against a real server on 127.0.0.1: status codes, headers, bodies."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import Index, Manifest

from .threaded import ThreadedRegistry

API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


def error_code(response: httpx.Response) -> str:
    assert response.headers["Content-Type"].startswith("application/json")
    errors = response.json()["errors"]
    assert set(errors[0]) <= {"code", "message", "detail"}
    return str(errors[0]["code"])


def upload(http: httpx.Client, name: str, data: bytes) -> Digest:
    digest = Digest.from_bytes(data)
    r = http.post(f"/v2/{name}/blobs/uploads/", params={"digest": str(digest)}, content=data)
    assert r.status_code == 201, r.text
    return digest


def image(http: httpx.Client, name: str, tag: str, **extra: object) -> tuple[Digest, bytes]:
    config = upload(http, name, b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
    layer_bytes = os.urandom(1000)
    layer = upload(http, name, layer_bytes)
    doc = Manifest(
        mt.OCI_MANIFEST,
        Descriptor(mt.OCI_CONFIG, config, len(http.get(f"/v2/{name}/blobs/{config}").content)),
        (Descriptor(mt.OCI_LAYER_GZIP, layer, len(layer_bytes)),),
    ).to_json()
    doc.update(extra)
    data = json.dumps(doc).encode()
    r = http.put(f"/v2/{name}/manifests/{tag}", content=data, headers={"Content-Type": mt.OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return Digest.from_bytes(data), data


def test_version_check(http: httpx.Client) -> None:
    r = http.get("/v2/")
    assert r.status_code == 200
    assert r.headers[API_VERSION[0]] == API_VERSION[1]


def test_monolithic_post_then_put(http: httpx.Client) -> None:
    data = os.urandom(5000)
    digest = Digest.from_bytes(data)
    r = http.post("/v2/a/b/blobs/uploads/")
    assert r.status_code == 202
    location = r.headers["Location"]
    assert location.startswith("/v2/a/b/blobs/uploads/")
    assert r.headers["Docker-Upload-UUID"] in location
    assert r.headers["Range"] == "0-0"
    r = http.put(location, params={"digest": str(digest)}, content=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/a/b/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == str(digest)
    r = http.head(f"/v2/a/b/blobs/{digest}")
    assert (r.status_code, r.headers["Content-Length"], r.content) == (200, "5000", b"")
    r = http.get(f"/v2/a/b/blobs/{digest}")
    assert r.content == data
    assert r.headers["Docker-Content-Digest"] == str(digest)
    assert r.headers[API_VERSION[0]] == API_VERSION[1]


def test_chunked_upload_with_status_and_out_of_order_chunk(http: httpx.Client) -> None:
    data = os.urandom(30_000)
    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    r = http.patch(location, content=data[:10_000], headers={"Content-Range": "0-9999", "Content-Type": "application/octet-stream"})
    assert (r.status_code, r.headers["Range"]) == (202, "0-9999")
    location = r.headers["Location"]
    r = http.patch(location, content=data[20_000:], headers={"Content-Range": "20000-29999"})
    assert r.status_code == 416
    assert error_code(r) == "RANGE_INVALID"
    assert r.headers["Range"] == "0-9999"
    r = http.get(location)
    assert (r.status_code, r.headers["Range"], r.headers["Location"]) == (204, "0-9999", location)
    r = http.patch(location, content=data[10_000:20_000])  # no Content-Range: streamed append
    assert r.headers["Range"] == "0-19999"
    r = http.put(location, params={"digest": str(Digest.from_bytes(data))}, content=data[20_000:],
                 headers={"Content-Range": "20000-29999"})
    assert r.status_code == 201
    assert http.get(f"/v2/app/blobs/{Digest.from_bytes(data)}").content == data


@pytest.mark.parametrize("content_range", ["-5-10", "0-", "bytes=0-9", "abc", "10-5", "0-99999999999999999999", "5-9"])
def test_bad_content_ranges_get_416(http: httpx.Client, content_range: str) -> None:
    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    r = http.patch(location, content=b"0123456789", headers={"Content-Range": content_range})
    assert r.status_code == 416
    assert error_code(r) == "RANGE_INVALID"
    assert http.get(location).headers["Range"] == "0-0"  # nothing was appended


def test_content_range_disagreeing_with_the_body_is_refused(http: httpx.Client) -> None:
    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    r = http.patch(location, content=b"0123456789", headers={"Content-Range": "0-99"})
    assert r.status_code == 416


def test_wrong_digest_is_refused_and_the_session_is_gone(http: httpx.Client, server: ThreadedRegistry) -> None:
    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    http.patch(location, content=b"some data")
    r = http.put(location, params={"digest": str(Digest.from_bytes(b"other data"))})
    assert r.status_code == 400
    assert error_code(r) == "DIGEST_INVALID"
    assert error_code(http.get(location)) == "BLOB_UPLOAD_UNKNOWN"
    assert list(server.registry.blobs.walk()) == []


def test_upload_digest_parameter_is_required_and_checked(http: httpx.Client) -> None:
    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    assert error_code(http.put(location)) == "DIGEST_INVALID"
    assert error_code(http.put(location, params={"digest": "sha256:short"})) == "DIGEST_INVALID"
    assert error_code(http.post("/v2/app/blobs/uploads/", params={"digest": "md5:abc"}, content=b"x")) == "DIGEST_INVALID"


def test_cancel_upload(http: httpx.Client) -> None:
    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    assert http.delete(location).status_code == 204
    r = http.get(location)
    assert (r.status_code, error_code(r)) == (404, "BLOB_UPLOAD_UNKNOWN")
    assert http.patch("/v2/app/blobs/uploads/not-a-uuid", content=b"x").status_code == 404


def test_cross_repository_mount(http: httpx.Client) -> None:
    digest = upload(http, "source", b"shared layer")
    r = http.post("/v2/target/blobs/uploads/", params={"mount": str(digest), "from": "source"})
    assert (r.status_code, r.headers["Location"], r.headers["Docker-Content-Digest"]) == (201, f"/v2/target/blobs/{digest}", str(digest))
    assert http.get(f"/v2/target/blobs/{digest}").content == b"shared layer"
    r = http.post("/v2/target2/blobs/uploads/", params={"mount": str(digest), "from": "nowhere"})
    assert r.status_code == 202  # cannot mount: a normal upload session instead
    assert "Docker-Upload-UUID" in r.headers


def test_blob_ranges(http: httpx.Client, fs_server: ThreadedRegistry) -> None:
    data = bytes(range(256)) * 4
    for base in (str(http.base_url), fs_server.url):  # streamed (in memory) and sendfile (file system)
        with httpx.Client(base_url=base) as client:
            digest = upload(client, "app", data)
            r = client.get(f"/v2/app/blobs/{digest}", headers={"Range": "bytes=10-19"})
            assert (r.status_code, r.content, r.headers["Content-Range"]) == (206, data[10:20], "bytes 10-19/1024")
            r = client.get(f"/v2/app/blobs/{digest}", headers={"Range": "bytes=-4"})
            assert (r.status_code, r.content) == (206, data[-4:])
            r = client.get(f"/v2/app/blobs/{digest}", headers={"Range": "bytes=1000-"})
            assert r.content == data[1000:]
            for bad in ("bytes=2000-3000", "bytes=5-2", "lines=1-2", "bytes=0-1,4-5"):
                r = client.get(f"/v2/app/blobs/{digest}", headers={"Range": bad})
                assert (r.status_code, error_code(r)) == (416, "RANGE_INVALID")
                assert r.headers["Content-Range"] == "bytes */1024"


def test_blob_unknown_and_delete(http: httpx.Client) -> None:
    digest = upload(http, "app", b"to delete")
    missing = Digest.from_bytes(b"missing")
    r = http.get(f"/v2/app/blobs/{missing}")
    assert (r.status_code, error_code(r)) == (404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/app/blobs/{missing}").status_code == 404
    assert http.get(f"/v2/other/blobs/{digest}").status_code == 404  # not linked there
    assert http.delete(f"/v2/app/blobs/{digest}").status_code == 202
    assert http.get(f"/v2/app/blobs/{digest}").status_code == 404
    assert error_code(http.delete(f"/v2/app/blobs/{digest}")) == "BLOB_UNKNOWN"
    assert error_code(http.get("/v2/app/blobs/sha256:xyz")) == "DIGEST_INVALID"


def test_manifest_put_get_head_delete(http: httpx.Client) -> None:
    digest, data = image(http, "team/app", "v1")
    for ref in ("v1", str(digest)):
        r = http.get(f"/v2/team/app/manifests/{ref}", headers={"Accept": mt.OCI_MANIFEST})
        assert (r.status_code, r.content) == (200, data)
        assert r.headers["Content-Type"] == mt.OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == str(digest)
        r = http.head(f"/v2/team/app/manifests/{ref}")
        assert (r.status_code, r.headers["Content-Length"], r.content) == (200, str(len(data)), b"")
    assert http.delete("/v2/team/app/manifests/v1").status_code == 202
    r = http.get("/v2/team/app/manifests/v1")
    assert (r.status_code, error_code(r)) == (404, "MANIFEST_UNKNOWN")
    assert http.get(f"/v2/team/app/manifests/{digest}").status_code == 200  # the tag went, the manifest stays
    assert http.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    assert http.get(f"/v2/team/app/manifests/{digest}").status_code == 404
    assert http.head("/v2/team/app/manifests/nope").status_code == 404


def test_manifest_put_response_headers(http: httpx.Client) -> None:
    digest, data = image(http, "app", "v1")
    r = http.put(f"/v2/app/manifests/{digest}", content=data, headers={"Content-Type": mt.OCI_MANIFEST})
    assert (r.status_code, r.headers["Location"], r.headers["Docker-Content-Digest"]) == (201, f"/v2/app/manifests/{digest}", str(digest))
    assert "OCI-Subject" not in r.headers


def test_docker_manifest_list_and_oci_index(http: httpx.Client) -> None:
    child, data = image(http, "multi", "amd64")
    for media_type in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST):
        entries = (Descriptor(mt.OCI_MANIFEST if media_type == mt.OCI_INDEX else mt.DOCKER_MANIFEST, child, len(data)),)
        body = Index(media_type, entries).to_bytes()
        r = http.put("/v2/multi/manifests/all", content=body, headers={"Content-Type": media_type})
        assert r.status_code == 201, r.text
        assert http.get("/v2/multi/manifests/all").headers["Content-Type"] == media_type
    missing = Index(mt.OCI_INDEX, (Descriptor(mt.OCI_MANIFEST, Digest.from_bytes(b"?"), 5),)).to_bytes()
    r = http.put("/v2/multi/manifests/bad", content=missing, headers={"Content-Type": mt.OCI_INDEX})
    assert (r.status_code, error_code(r)) == (400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"{not json", mt.OCI_MANIFEST, "MANIFEST_INVALID"),
        (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}', mt.DOCKER_MANIFEST, "MANIFEST_INVALID"),
        (b'{"schemaVersion": 2, "mediaType": "application/x-custom", "config": {}}', "application/x-custom", "MANIFEST_INVALID"),
        (b'{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:' + b"1" * 64 + b'","size":3},"layers":[]}',
         mt.OCI_MANIFEST, "MANIFEST_BLOB_UNKNOWN"),
        (b"", mt.OCI_MANIFEST, "MANIFEST_INVALID"),
    ],
)
def test_bad_manifests_get_the_spec_codes(http: httpx.Client, body: bytes, content_type: str, code: str) -> None:
    r = http.put("/v2/app/manifests/v1", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 400
    assert error_code(r) == code
    assert http.get("/v2/app/manifests/v1").status_code == 404


def test_huge_manifest_gets_413(http: httpx.Client) -> None:
    r = http.put("/v2/app/manifests/v1", content=b" " * (4 * 1024 * 1024 + 10), headers={"Content-Type": mt.OCI_MANIFEST})
    assert r.status_code == 413
    assert error_code(r) == "MANIFEST_INVALID"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v2/UPPER/manifests/v1", "NAME_INVALID"),
        ("/v2/a..b/manifests/v1", "NAME_INVALID"),
        ("/v2/" + "a" * 300 + "/manifests/v1", "NAME_INVALID"),
        ("/v2/a%2F..%2F..%2Fetc/manifests/v1", "NAME_INVALID"),
        ("/v2/a/tags/list?n=-1", "UNSUPPORTED"),
        ("/v2/a/tags/list?n=abc", "UNSUPPORTED"),
        ("/v2/a/referrers/not-a-digest", "DIGEST_INVALID"),
    ],
)
def test_bad_names_tags_and_parameters_are_4xx(http: httpx.Client, path: str, code: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = http.request(method, path, content=b"{}" if method == "PUT" else None)
        assert 400 <= r.status_code < 500, (method, path, r.status_code)
        if method == "GET" or code in ("NAME_INVALID",):
            assert error_code(r) == code


@pytest.mark.parametrize(
    ("reference", "put_code"),
    [
        ("-tag", "TAG_INVALID"),
        (".INVALID_MANIFEST_NAME", "TAG_INVALID"),
        ("t" * 200, "TAG_INVALID"),
        ("sha256:nothex", "DIGEST_INVALID"),
        ("sha256:" + "0" * 63, "DIGEST_INVALID"),
    ],
)
def test_a_reference_no_manifest_can_have_is_404_except_on_push(
    http: httpx.Client, reference: str, put_code: str
) -> None:
    # Issue 16 item 7: such a manifest cannot exist, so reading or deleting it is
    # MANIFEST_UNKNOWN, as distribution answers; only a push names a bad reference.
    image(http, "a", "v1")
    path = f"/v2/a/manifests/{reference}"
    for method in ("GET", "HEAD", "DELETE"):
        r = http.request(method, path)
        assert r.status_code == 404, (method, r.status_code, r.text)
        if method != "HEAD":
            assert error_code(r) == "MANIFEST_UNKNOWN"
    r = http.put(path, content=b"{}", headers={"Content-Type": mt.OCI_MANIFEST})
    assert (r.status_code, error_code(r)) == (400, put_code)
    assert http.get("/v2/a/manifests/v1").status_code == 200


def test_path_traversal_with_raw_dots_stays_inside(fs_server: ThreadedRegistry, tmp_path: object) -> None:
    import socket

    host, port = fs_server.url.removeprefix("http://").split(":")
    for target in ("/v2/../../../etc/passwd/manifests/v1", "/v2/a/../../x/blobs/uploads/", "/v2/./a/tags/list"):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            reply = sock.recv(4096).decode(errors="replace")
        status = int(reply.split()[1])
        assert 400 <= status < 500, (target, reply)
    root = os.path.dirname(fs_server.registry.driver.root)  # type: ignore[attr-defined]
    assert sorted(os.listdir(root)) == ["storage"]


def test_unknown_endpoints_and_methods(http: httpx.Client) -> None:
    r = http.get("/v2/app/unknown/thing")
    assert r.status_code == 404
    assert error_code(r) == "UNSUPPORTED"
    r = http.post("/v2/app/manifests/v1")
    assert (r.status_code, error_code(r)) == (405, "UNSUPPORTED")


def test_tags_list_pagination(http: httpx.Client) -> None:
    digest, data = image(http, "app", "b")
    for tag in ("a", "c", "d", "B"):
        http.put(f"/v2/app/manifests/{tag}", content=data, headers={"Content-Type": mt.OCI_MANIFEST})
    assert http.get("/v2/app/tags/list").json() == {"name": "app", "tags": ["B", "a", "b", "c", "d"]}
    r = http.get("/v2/app/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["B", "a"]
    assert r.headers["Link"] == '</v2/app/tags/list?n=2&last=a>; rel="next"'
    r = http.get("/v2/app/tags/list", params={"n": 2, "last": "a"})
    assert r.json()["tags"] == ["b", "c"]
    r = http.get("/v2/app/tags/list", params={"n": 2, "last": "c"})
    assert r.json()["tags"] == ["d"]
    assert "Link" not in r.headers
    r = http.get("/v2/app/tags/list", params={"n": 0})
    assert r.json()["tags"] == [] and "Link" not in r.headers
    assert http.get("/v2/app/tags/list", params={"last": "b"}).json()["tags"] == ["c", "d"]
    r = http.get("/v2/nothing/tags/list")
    assert (r.status_code, error_code(r)) == (404, "NAME_UNKNOWN")


def test_catalog_pagination(http: httpx.Client) -> None:
    for name in ("b", "a/x", "c", "a"):
        image(http, name, "v1")
    assert http.get("/v2/_catalog").json() == {"repositories": ["a", "a/x", "b", "c"]}
    r = http.get("/v2/_catalog", params={"n": 3})
    assert r.json()["repositories"] == ["a", "a/x", "b"]
    assert r.headers["Link"] == '</v2/_catalog?n=3&last=b>; rel="next"'
    assert http.get("/v2/_catalog", params={"n": 3, "last": "b"}).json()["repositories"] == ["c"]


def test_referrers_api(http: httpx.Client) -> None:
    subject, subject_bytes = image(http, "app", "v1")
    descriptor = {"mediaType": mt.OCI_MANIFEST, "digest": str(subject), "size": len(subject_bytes)}
    sig, _ = image(http, "app", "sig", subject=descriptor, artifactType="application/vnd.example.sig")
    r = http.put(f"/v2/app/manifests/{sig}", content=http.get(f"/v2/app/manifests/{sig}").content,
                 headers={"Content-Type": mt.OCI_MANIFEST})
    assert r.headers["OCI-Subject"] == str(subject)
    image(http, "app", "sbom", subject=descriptor, artifactType="application/spdx+json")
    r = http.get(f"/v2/app/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == mt.OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == mt.OCI_INDEX
    assert sorted(m["artifactType"] for m in index["manifests"]) == ["application/spdx+json", "application/vnd.example.sig"]
    r = http.get(f"/v2/app/referrers/{subject}", params={"artifactType": "application/spdx+json"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/spdx+json"]
    r = http.get(f"/v2/app/referrers/{Digest.from_bytes(b'none')}")
    assert (r.status_code, r.json()["manifests"]) == (200, [])
    assert http.get(f"/v2/unknown-repo/referrers/{subject}").status_code == 200


def test_history_and_rollback_extension(http: httpx.Client) -> None:
    first, _ = image(http, "app", "prod")
    second, _ = image(http, "app", "prod")
    doc = http.get("/berth/v1/app/tags/prod/history").json()
    assert doc["current"] == str(second)
    assert [(m["from"], m["to"], m["action"]) for m in doc["history"]] == [(None, str(first), "push"), (str(first), str(second), "push")]
    assert doc["history"][0]["user"] == "anonymous"
    r = http.post("/berth/v1/app/tags/prod/rollback", json={"steps": 1})
    assert r.status_code == 200
    assert r.json()["current"] == str(first)
    assert r.json()["move"]["action"] == "rollback"
    assert http.get("/v2/app/manifests/prod").headers["Docker-Content-Digest"] == str(first)
    r = http.post("/berth/v1/app/tags/prod/rollback", json={"to": str(second)})
    assert r.json()["current"] == str(second)
    r = http.post("/berth/v1/app/tags/prod/rollback", json={"steps": 99})
    assert (r.status_code, error_code(r)) == (404, "MANIFEST_UNKNOWN")
    for bad in ({"steps": "x"}, {"steps": 0}, [1], {"to": "sha256:bad"}):
        r = http.post("/berth/v1/app/tags/prod/rollback", json=bad)
        assert r.status_code == 400, bad
    assert http.post("/berth/v1/app/tags/prod/rollback", content=b"{oops").status_code == 400
    assert http.get("/berth/v1/app/tags/none/history").status_code == 404
    assert http.get("/berth/v1/nothing/tags/prod/history").status_code == 404


def test_never_500_for_random_requests(http: httpx.Client, server: ThreadedRegistry) -> None:
    image(http, "app", "v1")
    rng = __import__("random").Random(7)
    methods = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]
    pieces = ["app", "v2", "blobs", "uploads", "manifests", "tags", "list", "..", "%2e%2e", "sha256:", "x" * 70,
              str(Digest.from_bytes(b"q")), "referrers", "_catalog", "berth", "v1", "history", "rollback", "", "%00"]
    for _ in range(300):
        path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        headers = {"Content-Range": rng.choice(["0-1", "9-3", "x", "-1-2"]), "Range": rng.choice(["bytes=0-1", "x", "bytes=9-"])}
        r = http.request(rng.choice(methods), server.url + path, content=os.urandom(rng.randint(0, 50)), headers=headers)
        assert r.status_code < 500, (path, r.status_code, r.text)


def test_a_body_that_breaks_off_keeps_what_arrived(http: httpx.Client, server: ThreadedRegistry) -> None:
    import socket
    import time

    location = http.post("/v2/app/blobs/uploads/").headers["Location"]
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode() + b"a" * 100)
        time.sleep(0.2)
    for _ in range(50):  # the server notices the disconnect asynchronously
        r = http.get(location)
        if r.headers["Range"] == "0-99":
            break
        time.sleep(0.05)
    assert (r.status_code, r.headers["Range"]) == (204, "0-99")
    r = http.patch(location, content=b"b" * 10, headers={"Content-Range": "100-109"})
    assert r.status_code == 202  # the client resumes where the data stopped
    r = http.put(location, params={"digest": str(Digest.from_bytes(b"a" * 100 + b"b" * 10))})
    assert r.status_code == 201
