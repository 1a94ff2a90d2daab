# The retrain GitHub Action image: Python, the pinned runtime dependencies, the package. Nothing else.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/retrain
# git lets `retrain` record the commit of what it publishes; the runner mounts the workspace.
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/action.txt requirements/action.txt
RUN pip install --requirement requirements/action.txt
COPY pyproject.toml README.md entrypoint.py ./
COPY retrain ./retrain
RUN pip install --no-deps . && git config --system --add safe.directory '*'

ENTRYPOINT ["python", "/opt/retrain/entrypoint.py"]
