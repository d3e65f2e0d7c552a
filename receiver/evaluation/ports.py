"""Everything the evaluation borrows from the rest of llm-deploy, imported in one place.

Module paths elsewhere in the project move (receiver/ is being split into subpackages); keeping
these imports here means a move touches one file of this package.
"""

from __future__ import annotations

from action.attachments import describe, from_request
from action.browser import Browser, BrowserUnavailable, find_chromium, launch
from action.checks import Check, CheckResult, classify, normalise
from action.js_eval import JsResult
from action.payload import Attachment, Job
from action.prompts import generation_messages
from action.static_checks import (
    check_attachments,
    check_first_script,
    check_json_files,
    check_license,
    check_named_files,
    check_readme,
    check_svg_files,
    named_files,
)
from action.usage import PRICES, estimate_cost, price_for
from action.verify import page_query
from receiver.app import create_app
from receiver.config import ConfigError, Settings
from receiver.local.mode import LocalMode
from receiver.local.oneshot import capture_server
from receiver.local.run_model import RunResult
from receiver.local.runner import default_action_path, local_forge_with_runner
from receiver.workflow import WORKFLOW_FILE

__all__ = [
    "PRICES",
    "WORKFLOW_FILE",
    "Attachment",
    "Browser",
    "BrowserUnavailable",
    "Check",
    "CheckResult",
    "ConfigError",
    "Job",
    "JsResult",
    "LocalMode",
    "RunResult",
    "Settings",
    "capture_server",
    "check_attachments",
    "check_first_script",
    "check_json_files",
    "check_license",
    "check_named_files",
    "check_readme",
    "check_svg_files",
    "classify",
    "create_app",
    "default_action_path",
    "describe",
    "estimate_cost",
    "find_chromium",
    "from_request",
    "generation_messages",
    "launch",
    "local_forge_with_runner",
    "named_files",
    "normalise",
    "page_query",
    "price_for",
]
