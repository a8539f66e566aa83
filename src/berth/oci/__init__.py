"""Pure data for the OCI image, runtime and distribution specifications.

Nothing here does I/O beyond JSON encoding: digests, references, descriptors, image
manifests, indexes and configs, the runtime spec and ``Mount`` as data.
"""
