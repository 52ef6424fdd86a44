# Two entry points work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SJ     := $(VENV)/bin/spacejunk
OUT    ?= demo-out

.PHONY: setup demo test browser bench clean

# A virtual environment with the package installed in editable mode.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# Headless Chromium + driver from Debian, for the review page's browser test.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver >/dev/null; fi; fi

demo: setup
	$(SJ) demo --out $(OUT)

test: setup browser
	$(PY) -m pytest -q

bench: setup
	@ls benchmarks/*.py

clean:
	rm -rf $(VENV) $(OUT) build dist src/*.egg-info
