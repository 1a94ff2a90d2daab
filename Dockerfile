# The retrain GitHub Action image: Python, the pinned runtime dependencies, the package. Nothing else.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/retrain
# No git in the image: in the action the commit comes from GITHUB_SHA.
COPY requirements/action.txt requirements/action.txt
RUN pip install --requirement requirements/action.txt
COPY pyproject.toml README.md entrypoint.py ./
COPY retrain ./retrain
RUN pip install --no-deps .

ENTRYPOINT ["python", "/opt/retrain/entrypoint.py"]
