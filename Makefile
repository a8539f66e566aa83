# berth: two commands on a fresh Debian 12 machine, as root:
#   make demo   installs what berth needs, then runs a container and shows it isolated
#   make test   installs the same, then runs ruff, mypy and the whole test suite

PYTHON ?= /usr/bin/python3
VENV := .venv
BERTH := $(VENV)/bin/berth

# Debian packages berth and its tests use: busybox-static makes base images,
# python3-venv builds the virtual environment, libseccomp2 backs pyseccomp,
# debootstrap makes Debian base images, nftables (libnftables1) rewrites packets for
# networks, iproute2 and iptables are what the network tests read the host's state with,
# skopeo and docker-registry are the peers the registry is proven against.
# One package a line, so branches that add one do not collide.
APT_PACKAGES :=
APT_PACKAGES += busybox-static
APT_PACKAGES += python3-venv
APT_PACKAGES += python3-dev
APT_PACKAGES += libseccomp2
APT_PACKAGES += gcc
APT_PACKAGES += debootstrap
APT_PACKAGES += nftables
APT_PACKAGES += libnftables1
APT_PACKAGES += iproute2
APT_PACKAGES += iptables
APT_PACKAGES += skopeo
APT_PACKAGES += docker-registry

.PHONY: install demo test lint unit integration bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

demo: install
	$(VENV)/bin/python demo/demo.py

lint: install
	$(VENV)/bin/ruff check src tests bench demo
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest -q tests/unit

integration: install
	$(VENV)/bin/pytest -q tests/integration

test: install lint
	$(VENV)/bin/pytest -q tests

bench: install
	$(VENV)/bin/python bench/runtime_start.py
	$(VENV)/bin/python bench/network.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
