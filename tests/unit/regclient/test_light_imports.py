from __future__ import annotations

import subprocess
import sys


def test_importing_the_client_and_its_verbs_loads_no_http_or_rich() -> None:
    code = ("import sys, berth.registry.client, berth.registry.client.pull, berth.registry.client.push, "
            "berth.cli.pull, berth.cli.push, berth.cli.login; "
            "print(sorted(m for m in ('httpx', 'rich', 'httpcore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
