# The two set-up commands: `make demo` and `make test`. Both work on a fresh clone of a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo
# Debian tools the fixture builder and the interoperability tests (oracles) use.
DEBIAN_PACKAGES := ewf-tools sleuthkit libimage-exiftool-perl yara hashdeep mtools dosfstools e2fsprogs ntfs-3g \
                   exfatprogs fdisk gdisk libmagic1 chromium

.PHONY: demo test install system-deps typecheck lint fixtures clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install" $$missing; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test: system-deps $(STAMP)
	$(BIN)/python -m pip install --quiet ./tests/outside_plugin
	$(BIN)/ruff check dftk plugins tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

typecheck: $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check dftk plugins tests

fixtures: system-deps
	bash fixtures/build.sh

demo: system-deps $(STAMP)
	bash fixtures/demo.sh $(DEMO) $(BIN)/dftk

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache
