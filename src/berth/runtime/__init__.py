"""Running one OCI bundle: namespaces, mounts, pivot_root, cgroups, capabilities,
seccomp, and the in-container init.

``LinuxRuntime`` (linux.py) is the parent side of the runtime verbs; ``plan.py`` turns a
spec into checked, kernel-ready data; ``init.py`` is what runs in the forked child that
becomes the container.
"""
