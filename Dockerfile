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
COPY entrypoint.py ./
# Installed from a bind mount of the build context: the image holds the installed package only, not a
# second copy of its source (writes of the build, such as build/ and *.egg-info, are discarded).
RUN --mount=type=bind,source=.,target=/tmp/retrain-src,rw pip install --no-deps /tmp/retrain-src

ENTRYPOINT ["python", "/opt/retrain/entrypoint.py"]
