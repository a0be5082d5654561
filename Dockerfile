# Handwritten-digit service: the NumPy CNN behind FastAPI/uvicorn, on the committed weights.
#
#   docker build -t numpy-digits .
#   docker run --rm -p 8000:8000 numpy-digits                      # one uvicorn worker
#   docker run --rm -p 8000:8000 -e WEB_CONCURRENCY=2 numpy-digits # two worker processes
#
# Settings are the app's DIGITS_* environment variables (python -m app.settings); WEB_CONCURRENCY
# (worker processes) and FORWARDED_ALLOW_IPS (which proxies may set X-Forwarded-*) are read by uvicorn.

# ---- build stage: a virtualenv holding only the runtime dependencies, the locked versions ----------------
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# requirements.lock is [project].dependencies of pyproject.toml, pinned (the same set CI tests with).
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --no-cache-dir -r requirements.lock \
 && /opt/venv/bin/python -m pip uninstall -y pip \
 && find /opt/venv -depth -type d -name tests -path '*/site-packages/numpy/*' -exec rm -rf {} +

# ---- runtime stage ------------------------------------------------------------------------------------
FROM python:3.12-slim

# One BLAS/OpenMP thread per process: concurrency comes from uvicorn workers and replicas, and
# oversubscribed BLAS threads only slow small convolutions down.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    WEB_CONCURRENCY=1

# An unprivileged user with a fixed numeric id (Kubernetes' runAsNonRoot checks the number). The loop
# makes the interpreter's prefix traversable for that user: a no-op where it is /usr/local (the official
# image), needed where a stand-in base keeps it under a private home directory.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && p="$(python -c 'import sys; print(sys.base_prefix)')" \
 && while [ "$p" != / ]; do chmod a+x "$p"; p="$(dirname "$p")"; done

COPY --from=build /opt/venv /opt/venv

WORKDIR /srv
# Code and weights stay owned by root: the service only reads them (read-only root filesystem works).
COPY model/ model/
COPY app/ app/
COPY weights/ weights/

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]

# Exec form: the service is PID 1 and gets SIGTERM directly. Workers: $WEB_CONCURRENCY (read by uvicorn).
# app.cli (digits-serve) checks the settings and weights before starting uvicorn: a broken weights file is
# one line and exit status 3 whatever the number of workers (uvicorn's own supervisor would exit 0).
# --http: TCP_NODELAY, the header timeout and the connection cap on every connection (see app/protocol/).
CMD ["python", "-m", "app.cli", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--http", "app.protocol:GuardedProtocol"]
