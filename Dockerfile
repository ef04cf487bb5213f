# Politely: `docker build -t politely .` then
# `docker run -p 8000:8000 -v politely-var:/srv/politely/var -e POLITELY_SECRET_KEY=... politely`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/politely

RUN useradd --system --create-home --home-dir /home/politely politely
COPY pyproject.toml README.md ./
COPY app ./app
COPY config ./config
COPY templates ./templates
RUN pip install . && mkdir -p var && chown politely:politely var

USER politely
# Production refuses to start without POLITELY_SECRET_KEY (links would be forgeable).
ENV POLITELY_ENV=production \
    POLITELY_CONFIG=/srv/politely/config/politely.toml \
    POLITELY_TEMPLATES_DIR=/srv/politely/templates/emails
VOLUME ["/srv/politely/var"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["politely", "serve", "--host", "0.0.0.0", "--port", "8000"]
