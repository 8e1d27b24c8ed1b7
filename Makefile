# Two commands do everything on a fresh machine:
#   make demo   install, render the synthetic sign set, train, evaluate, predict (no download)
#   make test   install and run the test suite
PYTHON ?= python3
CONFIG ?= configs/lenet.yaml
SYNTH  ?= data/synth
PER_CLASS ?= 300
SIGNCLF = $(PYTHON) -m signclf

.PHONY: install install-gpu install-test test demo synth train lint bench clean

install:
	$(PYTHON) -m pip install -q -e ".[dev]"

install-gpu:
	$(PYTHON) -m pip install -q -e ".[dev,gpu]"

install-test:
	$(PYTHON) -m pip install -q -e ".[dev,export,runtime,tflite,sweep]"

test: install-test
	$(PYTHON) -m pytest -q

$(SYNTH)/train.p:
	$(SIGNCLF) data synth --out $(SYNTH) --per-class $(PER_CLASS) --seed 0

synth: $(SYNTH)/train.p

demo: install synth
	$(SIGNCLF) train --config configs/demo.yaml --no-progress
	$(SIGNCLF) evaluate
	$(SIGNCLF) predict $(SYNTH)/samples --top-k 1

train: install
	$(SIGNCLF) train --config $(CONFIG)

lint:
	$(PYTHON) -m ruff check signclf tests scripts

bench: install
	$(PYTHON) scripts/benchmark.py

clean:
	rm -rf build *.egg-info .pytest_cache
