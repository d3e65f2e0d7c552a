"""The LLM defaults, in one place: the Action's inputs, its LLM client and the receiver use these.

``action.yml`` cannot import Python, so ``tests/test_action_yml.py`` asserts that its defaults
equal these constants; the workflow template gets them from the receiver's settings, which
import them from here (the receiver may import ``action``; ``action`` never imports it).
"""

from __future__ import annotations

# An OpenAI-compatible gateway; AI Pipe is what the evaluator's students are given.
DEFAULT_BASE_URL = "https://aipipe.org/openai/v1"
DEFAULT_MODEL = "gpt-4.1-mini"
# The receiver passes this as the Action's fallback-model; the Action alone defaults to none.
DEFAULT_FALLBACK_MODEL = "gpt-4.1-nano"
