"""OpenAPI descriptions of local mode's routes, added to the core's by ``LocalMode``."""

from __future__ import annotations

from typing import Any

_TAGS = ["local mode"]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _page(*params: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": "A file of a local-mode site: a redirect to the sites' own origin",
            "description": "Sites are served on a port of their own (LLM_DEPLOY_PAGES_PORT), "
            "never on the receiver's origin; the same path there serves the file.",
            "tags": _TAGS,
            "parameters": list(params),
            "responses": {
                "307": {"description": "The same path on the sites' origin (Location)."},
            },
        }
    }


def _github_read(
    summary: str, params: list[dict[str, Any]], schema: dict[str, Any]
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "tags": _TAGS,
            "parameters": params,
            "responses": {
                "200": {
                    "description": "As GitHub answers it.",
                    "content": {"application/json": {"schema": schema}},
                },
                "404": {"description": "No such site or deployment (GitHub's error shape)."},
            },
        }
    }


def local_operations() -> dict[str, dict[str, Any]]:
    """The paths local mode mounts: its Pages, its run pages and its stand-in evaluator."""
    repo, path = _param("repo", "string"), _param("path", "string")
    owner = _param("owner", "string")
    return {
        "/pages/{repo}": _page(repo),
        "/pages/{repo}/{path}": _page(repo, path),
        # The local GitHub-compatible API (receiver.local.github_api, the runs' GITHUB_API_URL):
        # GitHub's two Pages reads, the site's URL and the deployment of a commit, and below the
        # listing of a workflow's runs.
        "/local/github/repos/{owner}/{repo}/pages": _github_read(
            "GitHub's 'Get a GitHub Pages site', for local runs",
            [owner, repo],
            {"type": "object", "required": ["html_url"]},
        ),
        "/local/github/repos/{owner}/{repo}/pages/deployments/{sha}": _github_read(
            "GitHub's 'Get the status of a GitHub Pages deployment', for local runs",
            [owner, repo, _param("sha", "string")],
            {"type": "object", "required": ["status"]},
        ),
        "/runs/{run_id}": {
            "get": {
                "summary": "A local-mode run's log page",
                "tags": _TAGS,
                "parameters": [_param("run_id", "integer")],
                "responses": {
                    "200": {
                        "description": "The run.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                    "404": {"description": "No such run."},
                },
            }
        },
        "/runs/{run_id}/rerun": {
            "post": {
                "summary": 'Re-run a finished local run (GitHub\'s "Re-run jobs"): a new attempt',
                "tags": _TAGS,
                "parameters": [_param("run_id", "integer")],
                "responses": {
                    "202": {
                        "description": "The next attempt has started with the same inputs.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["run_id", "attempt", "run_url"],
                                }
                            }
                        },
                    },
                    "404": {"description": "No runner in this receiver.", "content": _ERROR},
                    "409": {
                        "description": "The run is unknown, still in flight, or has no inputs.",
                        "content": _ERROR,
                    },
                },
            }
        },
        "/local/github/repos/{owner}/{repo}/actions/workflows/{workflow}/runs": {
            "get": {
                "summary": "GitHub's list of a workflow's runs, answered from local runs",
                "tags": _TAGS,
                "parameters": [
                    _param("owner", "string"),
                    repo,
                    _param("workflow", "string"),
                    *(
                        {"name": n, "in": "query", "required": False, "schema": {"type": t}}
                        for n, t in (
                            ("status", "string"),
                            ("page", "integer"),
                            ("per_page", "integer"),
                        )
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "Runs newest first, in GitHub's shape.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["total_count", "workflow_runs"],
                                }
                            }
                        },
                    },
                },
            }
        },
        "/local/notify": {
            "post": {
                "summary": "Local-mode stand-in evaluator: records a notification",
                "tags": _TAGS,
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": [
                                    "email",
                                    "task",
                                    "round",
                                    "nonce",
                                    "repo_url",
                                    "commit_sha",
                                    "pages_url",
                                ],
                            }
                        }
                    }
                },
                "responses": {
                    "200": {
                        "description": "Recorded.",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "required": ["status"]}
                            }
                        },
                    },
                    "400": {
                        "description": "Not a notification of a received task.",
                        "content": _ERROR,
                    },
                },
            }
        },
    }
