# Two commands do all the set-up on a fresh machine:
#   make book   -> builds the website into _build/html (executes notebooks in fast mode)
#   make test   -> runs every test (unit tests, Keras on two backends, all notebooks)
# Both create .venv and install what they need the first time.
# Full-mode training (for a GPU): make book AIGC_COURSE_FAST=0

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# PyTorch's CPU build, never PyPI's default Linux wheel (a multi-GB CUDA build): a torch
# wheel from pip's own find-links if this machine has one (no index is asked), else
# PyTorch's CPU index. For a CUDA build instead, e.g.
#   make install TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu126"
TORCH_SPEC ?= torch
TORCH_PIP_ARGS ?= --index-url https://download.pytorch.org/whl/cpu
export AIGC_COURSE_FAST ?= 1
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2
NBFLAGS ?=

.PHONY: book assets site-test test install unit keras-tf keras-torch notebooks check-notebooks sync benchmark check-install quality pretrain lint clean

install: $(VENV)/.installed

# The CPU build of PyTorch goes in first: a bare `torch` requirement with no torch
# installed would pull a multi-GB CUDA build. A local wheel goes in without its
# dependencies (only find-links is searched); the package install below brings them.
# Likewise tensorflow-cpu before Keras.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip show -q torch 2>/dev/null \
	  || $(BIN)/python -m pip install -q --no-index --no-deps "$(TORCH_SPEC)" 2>/dev/null \
	  || $(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip show -q tensorflow-cpu 2>/dev/null || $(BIN)/python -m pip show -q tensorflow 2>/dev/null \
	  || $(BIN)/python -m pip install -q "tensorflow-cpu>=2.16" || $(BIN)/python -m pip install -q "tensorflow>=2.16"
	$(BIN)/python -m pip install -q -e ".[torch,keras,data,book,dev]"
	touch $@

# BOOK_EXECUTE=off builds from the outputs already in the notebooks (CI runs them
# once with `make test NBFLAGS=--overwrite` first); the default executes them.
BOOK_EXECUTE ?= force
# The site serves MathJax and Mermaid itself, no CDN: tools/site_assets.py copies them
# from the npm packages pinned in tools/site_assets/ (needs Node.js and npm).
assets: install
	$(BIN)/python tools/site_assets.py

# The configuration is copied into _build/ with the execution mode set; paths in it
# (local_extensions) are relative to the file, hence the second substitution.
book: install assets
	mkdir -p _build
	sed -E -e 's/^( +execute_notebooks:).*/\1 $(BOOK_EXECUTE)/' \
	  -e 's#^( +course_site:) book/_ext#\1 ../book/_ext#' _config.yml > _build/_config.yml
	$(BIN)/jupyter-book build . -W --keep-going --config _build/_config.yml
	@echo "Book written to _build/html/index.html"

unit: install
	$(BIN)/python -m pytest -q -m "not keras and not site"

# Keras tests run once per backend, each in its own process (the backend is fixed at import).
keras-tf: install
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -m keras

keras-torch: install
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q -m keras

# Open every page of the built site (make book first) in headless Chromium: math typeset,
# diagrams drawn, no raw Markdown or MyST, images and links resolve, no console error,
# no request to another host. Screenshots go to _build/screenshots/.
site-test: install
	$(BIN)/python -m pytest -q -m site -p no:cacheprovider tests/test_site.py

# ruff (configured in pyproject.toml) on the package, tools, benchmarks and tests; the
# notebook sources are not linted yet (they still hold lint issues of their own).
lint: install
	$(BIN)/python -m ruff check aigc_course tools benchmarks tests notebooks book
	$(BIN)/python -m ruff format --check .

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

# Regenerate every .ipynb from its paired .py (the .py files are the source of truth),
# and the student and instructor notebooks in colab/ (check_notebooks.py --fix runs
# tools/export_notebooks.py; `make check-notebooks` checks them).
sync: install
	$(BIN)/python tools/check_notebooks.py --fix

benchmark: install
	$(BIN)/python benchmarks/run.py

# Resolve `make install`'s requirements on every Python that requires-python allows (and
# show that the next one fails). Needs PyPI; a minute or two per version.
check-install: install
	$(BIN)/python tools/check_install.py

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

# Train one published checkpoint with its full recipe (resumable: run it again to go on),
# evaluate it on held-out data and publish weights + card into pretrained/:
#   make pretrain MODEL=dcgan DATASET=mnist [MINUTES=60]
#   make pretrain            # lists the recipes
MINUTES ?=
pretrain: install
	$(BIN)/python benchmarks/pretrain.py $(MODEL) $(DATASET) $(if $(MINUTES),--minutes $(MINUTES))

clean:
	rm -rf _build .pytest_cache
