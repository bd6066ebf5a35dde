# hrsync: one image for every process (web, worker, beat, migrate); the
# command decides which. See docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HRSYNC_VAR_DIR=/var/lib/hrsync \
    DJANGO_STATIC_ROOT=/app/staticfiles

RUN useradd --system --create-home --uid 10001 --user-group hrsync \
    && install -d -o hrsync -g hrsync /var/lib/hrsync

WORKDIR /app

# Dependencies first, in their own layer: a code change does not reinstall them.
# CI's deployed-stack check installs from the same list, the same way.
COPY pyproject.toml ./
COPY .ci/declared-requirements .ci/
RUN python .ci/declared-requirements > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Editable, so settings find templates/ and static/ next to the code in /app.
# collectstatic needs settings to load, and deployed settings need secrets:
# the placeholders below exist only for this one command (not ENV, so they are
# not in the image) and nothing else reads them. The real secrets come from
# the environment at run time.
RUN pip install --no-deps -e . \
    && DATABASE_URL=postgres://build@localhost/build \
       DJANGO_SECRET_KEY=collectstatic-placeholder \
       HRSYNC_ENCRYPTION_KEY=collectstatic-placeholder \
       CELERY_BROKER_URL=memory:// \
       python manage.py collectstatic --noinput --verbosity 0

USER hrsync
EXPOSE 8000
CMD ["gunicorn", "hrsync.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--logger-class", "hrsync.gunicorn_logger.Logger"]
