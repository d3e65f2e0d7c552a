"""``llm-deploy eval``: run the course's tasks through the real pipeline and score each round the
way the course's evaluator does, so that a change of prompt, repair or model shows as a number.

Modules, one job each: ``sources`` and ``generator`` (tasks), ``expectations`` (what a request
asks for, parsed), ``observed`` (what a round left behind), ``scoring`` and ``page_checks`` (the
evaluator's deterministic checks, pure), ``evidence`` (git checkout of ``commit_sha`` and the
served files over HTTP), ``browser_checks`` (``js:`` checks in
Chromium), ``judge`` (LLM-graded checks, only with a key), ``pipeline`` (a local-mode receiver),
``budget``, ``runner`` (drives it all), ``results`` (aggregation), ``render_md``/``render_html``,
and ``cli``. ``ports`` holds every import from the rest of llm-deploy.
"""
