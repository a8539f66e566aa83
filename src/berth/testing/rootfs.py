"""A busybox root file system made from Debian's busybox-static, as every peer uses.

The folder has /bin/busybox, one symlink per applet, /etc/passwd and /etc/group, and
empty mount points; ``make_busybox_rootfs`` is what the tests, the demo and the
benchmarks build images and bundles from.
"""

from __future__ import annotations

import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "user:x:1000:1000:user:/home/user:/bin/sh\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\nuser:x:1000:\n"


def make_busybox_rootfs(dest: str, busybox: str = BUSYBOX) -> str:
    if not os.path.exists(busybox):
        raise FileNotFoundError(f"{busybox}: install Debian's busybox-static (make install does)")
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user", "var/tmp", "usr/bin"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(dest, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(dest, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write(GROUP)
    os.chown(os.path.join(dest, "home", "user"), 1000, 1000) if os.geteuid() == 0 else None
    return dest
