# Two commands do all the set-up on a fresh machine:
#   make book   -> builds the website into _build/html (executes notebooks in fast mode)
#   make test   -> runs every test (unit tests, Keras on two backends, all notebooks)
# Both create .venv and install what they need the first time.
# Full-mode training (for a GPU): make book AIGC_COURSE_FAST=0

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# How to install PyTorch's CPU build: here a wheel on local disk; elsewhere, e.g.
#   make test TORCH_SPEC=torch TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
export AIGC_COURSE_FAST ?= 1
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2
NBFLAGS ?=

.PHONY: book test install unit keras-tf keras-torch notebooks check-notebooks sync benchmark quality clean

install: $(VENV)/.installed

# The CPU build of PyTorch goes in first: a bare `torch` requirement with no torch
# installed would pull a multi-GB CUDA build. Likewise tensorflow-cpu before Keras.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip show -q torch 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS) \
	  || $(BIN)/python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/python -m pip show -q tensorflow-cpu 2>/dev/null || $(BIN)/python -m pip show -q tensorflow 2>/dev/null \
	  || $(BIN)/python -m pip install -q "tensorflow-cpu>=2.16" || $(BIN)/python -m pip install -q "tensorflow>=2.16"
	$(BIN)/python -m pip install -q -e ".[torch,keras,data,book,dev]"
	touch $@

# BOOK_EXECUTE=off builds from the outputs already in the notebooks (CI runs them
# once with `make test NBFLAGS=--overwrite` first); the default executes them.
BOOK_EXECUTE ?= force
book: install
	mkdir -p _build
	sed -E 's/^( +execute_notebooks:).*/\1 $(BOOK_EXECUTE)/' _config.yml > _build/_config.yml
	$(BIN)/jupyter-book build . -W --keep-going --config _build/_config.yml
	@echo "Book written to _build/html/index.html"

unit: install
	$(BIN)/python -m pytest -q -m "not keras"

# Keras tests run once per backend, each in its own process (the backend is fixed at import).
keras-tf: install
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -m keras

keras-torch: install
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q -m keras

check-notebooks: install
	$(BIN)/python tools/check_notebooks.py

# Notebooks run NBWORKERS at a time (pytest-xdist), each on one math thread: small
# models are dominated by Python overhead, and two single-threaded kernels use two
# cores better than one kernel with two threads.
NBWORKERS ?= 2
notebooks: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(NBWORKERS) --nbmake --nbmake-timeout=900 \
	  --durations=0 $(NBFLAGS) notebooks

test: unit keras-tf keras-torch check-notebooks notebooks

# Regenerate every .ipynb from its paired .py (the .py files are the source of truth).
sync: install
	$(BIN)/python tools/check_notebooks.py --fix

benchmark: install
	$(BIN)/python benchmarks/run.py

# Train and evaluate every model (CPU preset: minutes per model on a laptop; on a GPU
# add QUALITY_PRESET=full). Writes benchmarks/results/quality-*.json for the results page.
QUALITY_PRESET ?= cpu
quality: install
	$(BIN)/python benchmarks/quality.py --framework torch --dataset mnist --preset $(QUALITY_PRESET)
	$(BIN)/python benchmarks/quality.py --framework torch --dataset fashion_mnist --preset $(QUALITY_PRESET)
	$(BIN)/python benchmarks/quality.py --framework torch --dataset shakespeare --preset $(QUALITY_PRESET)
	KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/quality.py --framework keras --dataset mnist --preset $(QUALITY_PRESET)
	KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/quality.py --framework keras --dataset fashion_mnist --preset $(QUALITY_PRESET)
	KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/quality.py --framework keras --dataset shakespeare --preset $(QUALITY_PRESET)

clean:
	rm -rf _build .pytest_cache
