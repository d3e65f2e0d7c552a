# llm-deploy receiver: `docker build -t llm-deploy . && docker run -p 7860:7860 -e DEPLOY_SECRET=… llm-deploy`
# Hosting notes (Hugging Face Spaces, Render, a VM): docs/hosting.md.
FROM python:3.12-slim

# git: the Action's git steps and the receiver's local mode (bare repos under the data folder).
# Debian's versions are not pinned on purpose: the slim base tracks one Debian release, whose
# security updates replace old package versions, so a pinned version soon stops installing.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Installed as a wheel, like any `pip install .`: the workflow templates and action.yml travel
# inside the package (receiver/bundled/), so the source tree is only bind-mounted for the build
# and never becomes a layer of the image.
RUN --mount=type=bind,source=.,target=/src,rw \
    pip install --no-cache-dir '/src[receiver]'

# uid 1000 is the user Hugging Face Spaces runs containers as; /data is the data folder (journal,
# local repos, sites) and where Spaces mounts persistent storage when it is enabled.
RUN useradd --create-home --uid 1000 app \
 && mkdir -p /data \
 && chown app:app /data
# Numeric, so hosts that check for a non-root uid can tell without reading /etc/passwd.
USER 1000:1000

# 7860 is Hugging Face Spaces' default app port; any host may set PORT instead.
ENV HOME=/home/app \
    PORT=7860 \
    HOST=0.0.0.0 \
    LLM_DEPLOY_DATA=/data
EXPOSE 7860

# Slim images have no curl: ask Python, which honours the PORT the container was started with.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '7860'), timeout=4)"]

CMD ["llm-deploy", "serve"]
