from __future__ import annotations

import pytest

from berth.errors import (
    BlobNotFound,
    DigestMismatch,
    ImageNotFound,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.digest import Digest
from berth.oci.image import Index
from berth.registry.client import platforms
from berth.registry.client.errors import error_for
from berth.registry.client.hosts import InsecureRules, registry_host, split_host


def test_loopback_registries_are_insecure_and_others_need_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_INSECURE_REGISTRIES", raising=False)
    rules = InsecureRules.from_env()
    for host in ("localhost:5000", "127.0.0.1:5000", "127.3.4.5", "[::1]:5000", "app.localhost"):
        assert rules.insecure(host), host
    for host in ("docker.io", "10.1.2.3:5000", "registry.example.com"):
        assert not rules.insecure(host), host
    listed = InsecureRules(["10.0.0.0/8, registry.example.com", "other.example:5000"])
    assert listed.insecure("10.1.2.3:5000")
    assert listed.insecure("registry.example.com:443")
    assert listed.insecure("other.example:5000") and not listed.insecure("other.example:6000")
    monkeypatch.setenv("BERTH_INSECURE_REGISTRIES", "192.168.0.0/16 lan:5000")
    assert InsecureRules.from_env().insecure("192.168.1.1:5000") and InsecureRules.from_env().insecure("lan:5000")
    with pytest.raises(InvalidArgument):
        InsecureRules(["300.1.2.3/8"])


def test_endpoints_https_first_and_docker_hub_address() -> None:
    rules = InsecureRules()
    assert registry_host("docker.io", rules).endpoints == ("https://registry-1.docker.io",)
    assert registry_host("127.0.0.1:5000", rules).endpoints == ("https://127.0.0.1:5000", "http://127.0.0.1:5000")
    assert split_host("[::1]:5000") == ("::1", 5000)
    assert split_host("example.com") == ("example.com", None)


def _entry(plat: str | None, media_type: str = mt.OCI_MANIFEST, **annotations: str) -> Descriptor:
    return Descriptor(media_type, Digest.from_bytes((plat or "none").encode() + str(annotations).encode()), 1,
                      annotations=dict(annotations), platform=Platform.parse(plat) if plat else None)


def test_platform_selection_prefers_exact_variants_and_skips_attestations() -> None:
    amd64, arm64, armv6, armv7 = (_entry(p) for p in ("linux/amd64", "linux/arm64/v8", "linux/arm/v6",
                                                       "linux/arm/v7"))
    attestation = _entry("unknown/unknown", **{"vnd.docker.reference.type": "attestation-manifest"})
    index = Index(mt.OCI_INDEX, (attestation, _entry(None), armv6, amd64, armv7, arm64))
    assert platforms.select(index, Platform("linux", "amd64")) == amd64
    assert platforms.select(index, Platform("linux", "arm64")) == arm64
    assert platforms.select(index, Platform("linux", "arm", "v7")) == armv7
    assert platforms.select(Index(mt.OCI_INDEX, (armv6,)), Platform("linux", "arm", "v7")) == armv6
    with pytest.raises(NotFound, match="no matching manifest for linux/arm/v5"):
        platforms.select(index, Platform("linux", "arm", "v5"))
    with pytest.raises(NotFound):
        platforms.select(Index(mt.OCI_INDEX, (attestation,)), Platform("unknown", "unknown"))


def test_registry_errors_become_berth_error_classes() -> None:
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    err = error_for(404, body, "manifest for a:1")
    assert isinstance(err, ImageNotFound) and str(err) == "manifest for a:1: manifest unknown: manifest unknown"
    assert isinstance(error_for(404, b"", "blob sha256:x"), BlobNotFound)
    assert isinstance(error_for(401, b"", "x"), PermissionDenied)
    assert isinstance(error_for(403, b'{"errors":[{"code":"DENIED"}]}', "x"), PermissionDenied)
    assert isinstance(error_for(400, b'{"errors":[{"code":"DIGEST_INVALID"}]}', "x"), DigestMismatch)
    assert isinstance(error_for(503, b"", "x"), Unavailable)
    assert isinstance(error_for(429, b"", "x"), Unavailable)
    assert isinstance(error_for(400, b"not json", "x"), InvalidArgument)
