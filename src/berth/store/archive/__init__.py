"""Image archives: ``docker save``/``docker load`` tars, OCI layout tars, rootfs imports."""
