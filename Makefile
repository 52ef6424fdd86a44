# Two entry points work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SJ     := $(VENV)/bin/spacejunk
OUT    ?= demo-out

.PHONY: setup demo test browser bench clean

# A virtual environment with the package installed in editable mode. torch 2.14.1 and
# torchvision 0.29.1 (for the detection models and roi_align) take about 6 GB: say so
# before pip runs out of disk half-way. constraints.txt pins the numerical libraries the
# shipped models and the documented figures were made with.
NEED_GB ?= 6
$(VENV)/.installed: pyproject.toml constraints.txt
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	if [ "$$free" -lt $(NEED_GB) ]; then \
	  echo "make setup: $(VENV) needs about $(NEED_GB) GB of disk (torch + torchvision); only $$free GB free in $$(pwd)" >&2; \
	  exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
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
