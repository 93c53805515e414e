# tsnhub: the two commands are `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DATA   := var
PKI    := $(DATA)/pki

.PHONY: serve test bench typecheck install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres,cda]'
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[postgres,cda,test]'
	@touch $@

install: $(VENV)/.installed

$(PKI)/ca.pem: | $(VENV)/.installed
	$(BIN)/tsnhub pki init --dir $(PKI)

serve: $(VENV)/.installed $(PKI)/ca.pem
	$(BIN)/tsnhub serve --data-dir $(DATA) --pki $(PKI)

test: $(VENV)/.installed-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

typecheck: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/mypy hub actors vihf cda conformance

clean:
	rm -rf $(VENV) $(DATA) *.egg-info
