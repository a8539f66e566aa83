"""The OCI distribution-spec conformance suite (v1.1.1) against berth's registry and,
in the same run, distribution's (Debian's ``docker-registry``, 2.8).

    .venv/bin/python tests/conformance/run.py [--keep DIR]

Each registry runs on 127.0.0.1 with fresh storage; the suite runs with pull, push,
content discovery and content management enabled, and the same settings for both.
It prints one row per registry (passed, failed, skipped) and the failed specs by
name; it exits 1 when berth fails any spec. The suite's binary is not part of the
project: build it with ``tests/conformance/build.sh`` (it lands in
``../ext/distribution-spec/conformance.test`` beside the repository) or name it with
``OCI_CONFORMANCE_BIN``. Without it, or without docker-registry, this says SKIPPED
and what is missing, and exits 0. ``test_distribution_spec.py`` runs the same for
pytest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(REPO, "src")
DISTRIBUTION = "/usr/bin/docker-registry"


def conformance_binary() -> str | None:
    path = os.environ.get("OCI_CONFORMANCE_BIN") or os.path.join(
        os.path.dirname(REPO), "ext", "distribution-spec", "conformance.test"
    )
    return path if os.access(path, os.X_OK) else None


@dataclass
class Outcome:
    registry: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    report_dir: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the registry exited with {process.returncode}")
        try:
            if httpx.get(url + "/v2/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}: the registry did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def berth_registry(work: str) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(os.path.join(work, "berth.log"), "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "berth", "registry", "--storage", os.path.join(work, "berth-storage"), "serve",
             "-q", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


@contextmanager
def distribution_registry(work: str) -> Iterator[str]:
    port = _free_port()
    config = os.path.join(work, "distribution.yml")
    with open(config, "w") as f:
        f.write(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {os.path.join(work, 'distribution-storage')}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
    with open(os.path.join(work, "distribution.log"), "wb") as log:
        process = subprocess.Popen([DISTRIBUTION, "serve", config], stdout=log, stderr=log)
        try:
            _wait_ready(f"http://127.0.0.1:{port}", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


def run_suite(binary: str, name: str, url: str, report_dir: str) -> Outcome:
    os.makedirs(report_dir, exist_ok=True)
    env = dict(
        os.environ,
        OCI_ROOT_URL=url,
        OCI_NAMESPACE="conformance/main",
        OCI_CROSSMOUNT_NAMESPACE="conformance/other",
        OCI_TEST_PULL="1",
        OCI_TEST_PUSH="1",
        OCI_TEST_CONTENT_DISCOVERY="1",
        OCI_TEST_CONTENT_MANAGEMENT="1",
        OCI_AUTOMATIC_CROSSMOUNT="0",  # neither registry mounts without ?from=
        OCI_HIDE_SKIPPED_WORKFLOWS="0",
        OCI_DEBUG="0",
        OCI_REPORT_DIR=report_dir,
    )
    with open(os.path.join(report_dir, "output.txt"), "wb") as out:
        subprocess.run([binary], cwd=report_dir, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    return read_junit(name, os.path.join(report_dir, "junit.xml"))


def read_junit(name: str, path: str) -> Outcome:
    outcome = Outcome(name, report_dir=os.path.dirname(path))
    for case in ET.parse(path).iter("testcase"):
        if case.find("skipped") is not None:
            outcome.skipped += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            outcome.failed += 1
            outcome.failures.append(str(case.get("name")))
        else:
            outcome.passed += 1
    return outcome


def run_both(binary: str, work: str, *, with_distribution: bool = True) -> list[Outcome]:
    outcomes = []
    with berth_registry(work) as url:
        outcomes.append(run_suite(binary, "berth", url, os.path.join(work, "report-berth")))
    if with_distribution:
        with distribution_registry(work) as url:
            outcomes.append(run_suite(binary, "distribution 2.8", url, os.path.join(work, "report-distribution")))
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'registry':<20}{'passed':>8}{'failed':>8}{'skipped':>9}"]
    lines += [f"{o.registry:<20}{o.passed:>8}{o.failed:>8}{o.skipped:>9}" for o in outcomes]
    for o in outcomes:
        lines += [f"  {o.registry} failed: {name}" for name in o.failures]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", metavar="DIR", help="keep storage, logs and the suite's reports in DIR")
    args = parser.parse_args()
    binary = conformance_binary()
    if binary is None:
        print("SKIPPED: the conformance binary is not built (tests/conformance/build.sh, or OCI_CONFORMANCE_BIN)")
        return 0
    with_distribution = os.access(DISTRIBUTION, os.X_OK)
    if not with_distribution:
        print(f"distribution skipped: {DISTRIBUTION} is not installed (Debian package docker-registry)")
    work = args.keep or tempfile.mkdtemp(prefix="berth-conformance-")
    os.makedirs(work, exist_ok=True)
    try:
        outcomes = run_both(binary, work, with_distribution=with_distribution)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("OCI distribution-spec conformance v1.1.1 (pull, push, discovery, management)")
    print(table(outcomes))
    return 1 if outcomes[0].failed else 0


if __name__ == "__main__":
    sys.exit(main())
