# One image for every service of the production shape (web, worker, beat, migrate).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.in constraints.txt ./
RUN pip install -r requirements.in -c constraints.txt

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 mimic \
 && mkdir -p /var/lib/mimic/uploads && chown mimic /var/lib/mimic/uploads
USER mimic

EXPOSE 8000
CMD ["bin/serve"]
