# The gateway and the worker share one image; compose.yaml picks the command.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY baas ./baas
COPY gateway ./gateway
COPY workers ./workers
COPY schemas ./schemas
# Not editable: the image runs the installed package, with the schemas it ships (baas/schemas).
RUN pip install . && useradd --system --uid 10001 baas
USER baas

ENV BAAS_HOST=0.0.0.0 BAAS_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"
CMD ["baas", "gateway"]
