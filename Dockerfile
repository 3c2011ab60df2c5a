# The Python image of CrowdPass: one image for the API, the arq workers, the payments stub
# and the migrate/seed step (docker-compose.yml picks the command). Build context: the
# repository root; .dockerignore keeps the context small.
#
# FROM the Debian base the project names (BASE_IMAGE, default crowdpass/debian:bookworm:
# made by deploy/base-image.sh, the official debian:bookworm-slim where a registry answers,
# else debootstrapped from the configured apt mirror). Python is Debian's python3 (3.11).
# The build installs only Debian packages and packages from PyPI (PIP_INDEX_URL: the
# index this machine's pip uses): the project is built into a wheel and installed, with
# its pinned dependencies, into /opt/venv, which is then copied into a clean runtime stage
# that runs as an unprivileged user. Build with `docker build --network host`.

ARG BASE_IMAGE=crowdpass/debian:bookworm
# The built web app, from the web app's image (deploy/build-images.sh builds it first): the API
# answers the app's pages itself, an event's page with its own title and Open Graph tags.
ARG WEB_IMAGE=crowdpass-frontend:latest

FROM ${WEB_IMAGE} AS web

FROM ${BASE_IMAGE} AS python
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*

FROM python AS build
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_INDEX_URL=${PIP_INDEX_URL} \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# The CA bundle of the machine that builds, when deploy/build-images.sh left one (a
# machine whose traffic goes through a proxy with its own CA), else the image's.
COPY deploy/requirements.py deploy/build-ca.cr[t] /tmp/build/
RUN cp /tmp/build/build-ca.crt /etc/ssl/certs/build-ca.crt 2>/dev/null \
    || cp /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/build-ca.crt
ENV PIP_CERT=/etc/ssl/certs/build-ca.crt
RUN python3 -m venv /opt/venv
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

FROM python
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
COPY --from=web /usr/share/nginx/html /srv/webapp
RUN chmod 0755 /usr/local/bin/run-workers
USER crowdpass
WORKDIR /app
EXPOSE 8000
CMD ["uvicorn", "--factory", "app:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
