# The retrain GitHub Action image: Python, the pinned runtime dependencies, the package. Nothing else.
# The base is an argument so that a test can build on an offline stand-in (tests/container/run.sh).
# 3.14: every pin in requirements/action.txt has a wheel for it (for 3.15, PyYAML 6.0.3 has none yet).
ARG BASE_IMAGE=python:3.14-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# No WORKDIR: the runner starts the container in the workspace (--workdir /github/workspace), and
# absolute paths below keep the build independent of the current folder.
# No git in the image: in the action the commit comes from GITHUB_SHA.
COPY requirements/action.txt /opt/retrain/requirements/action.txt
RUN pip install --requirement /opt/retrain/requirements/action.txt
COPY pyproject.toml README.md entrypoint.py /opt/retrain/
COPY retrain /opt/retrain/retrain
RUN pip install --no-deps /opt/retrain

ENTRYPOINT ["python", "/opt/retrain/entrypoint.py"]
