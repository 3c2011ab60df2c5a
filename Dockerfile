# The Python image of CrowdPass: one image for the API, the arq workers, the payments stub
# and the migrate/seed step (docker-compose.yml picks the command). Build context: the
# repository root; .dockerignore keeps the context small.
#
# The build installs only packages from PyPI and the base image's own files: the project
# is built into a wheel and installed, with its pinned dependencies, into /opt/venv, which
# is then copied into a clean runtime stage that runs as an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, so this layer is rebuilt only when they change; transitive ones at
# the versions of constraints.txt, as in development and CI.
COPY pyproject.toml constraints.txt deploy/requirements.py ./
RUN python requirements.py pyproject.toml > requirements.txt \
    && pip install -c constraints.txt -r requirements.txt
# Then the project itself (modules, SQL, Lua), as a regular (not editable) install.
COPY . .
# The import check runs from / so that it sees the installed copy, not /src.
RUN pip install --no-deps . \
    && cd / && python -c "import app, jobs.worker, payments_stub.app, manage; print('imports ok')"

FROM python:3.11-slim
# glibc malloc, tuned for small memory limits: two arenas, and large blocks (Argon2's
# 19 MiB per password hash) always mmap'd, so they go back to the system when freed
# instead of raising the process's footprint for good.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --system --uid 10001 --create-home --home-dir /app --shell /usr/sbin/nologin crowdpass
COPY --from=build /opt/venv /opt/venv
COPY deploy/run-workers.sh /usr/local/bin/run-workers
RUN chmod 0755 /usr/local/bin/run-workers
USER crowdpass
WORKDIR /app
EXPOSE 8000
CMD ["uvicorn", "--factory", "app:create_app", "--host", "0.0.0.0", "--port", "8000"]
