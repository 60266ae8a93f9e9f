# exambank: a multi-stage build; the runtime image holds only the installed package and runs as a
# non-root user. Migrations run once (`exambank migrate`) before the workers start.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini requirements.lock ./
# The locked versions first (a layer that changes only with requirements.lock: `scripts/lock`), then exambank.
RUN python -m venv /opt/exambank \
 && /opt/exambank/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/exambank/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY app ./app
COPY migrations ./migrations
RUN /opt/exambank/bin/pip install --no-cache-dir --no-deps . && /opt/exambank/bin/pip check

FROM python:3.11-slim AS runtime
RUN groupadd --system exambank && useradd --system --gid exambank --home-dir /var/lib/exambank exambank \
 && mkdir -p /var/lib/exambank && chown exambank:exambank /var/lib/exambank
COPY --from=build /opt/exambank /opt/exambank
ENV PATH="/opt/exambank/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EXAMBANK_ENVIRONMENT=production \
    EXAMBANK_DATABASE_URL=sqlite:////var/lib/exambank/exambank.db
USER exambank
WORKDIR /var/lib/exambank
VOLUME ["/var/lib/exambank"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/ready', timeout=3)"
# `serve` applies pending migrations once in this process, then starts the workers.
CMD ["exambank", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
