# The energy platform's image: the code location (gRPC on port 4000) by default; the same
# image runs the webserver, the daemon and every ECS run task (see docs/DEPLOY.md).
# Build: docker build -t energy-platform .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/dagster/app

# Dependencies first, exactly as requirements-prod.lock pins them (runtime + the deploy extra:
# dagster-aws's EcsRunLauncher, dagster-postgres's storage; no moto, no test tools), every file
# checked against its hash; this layer is reused until the lock changes.
COPY requirements-prod.lock ./
RUN pip install --require-hashes -r requirements-prod.lock

# Then the project alone: --no-deps, so nothing outside the lock gets in.
COPY pyproject.toml README.md ./
COPY energy_platform ./energy_platform
RUN pip install --no-deps .

COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml

RUN useradd --system --uid 10001 --home-dir /opt/dagster dagster \
    && chown -R dagster /opt/dagster
USER dagster

EXPOSE 4000

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["dagster", "api", "grpc-health-check", "--port", "4000"]

# CMD, not ENTRYPOINT: the webserver and daemon services and the EcsRunLauncher (for each
# run's `dagster api execute_run`) replace this command in the same image.
# DAGSTER_CURRENT_IMAGE (the image URI, set on the ECS service) names the image for runs.
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
    "--module-name", "energy_platform.definitions", "--location-name", "energy_platform"]
