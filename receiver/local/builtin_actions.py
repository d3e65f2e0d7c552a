"""Local stand-ins for the ``actions/*`` steps of a generated repo's workflow.

GitHub's own actions cannot run here, so each gets a local equivalent: checkout clones the bare
repo, setup-python is the receiver's interpreter, the Pages actions stage and publish the site
into ``data_dir/sites``. Any other ``actions/*`` step is logged and skipped as a no-op.
"""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

from receiver.local.pages import publish_site, stage_artifact
from receiver.local.run_model import RunState, StepFailed, run_git


def run_builtin(
    run: RunState, name: str, with_: dict[str, str], *, data_dir: Path, pages_url: str
) -> dict[str, str]:
    """Run ``actions/<name>`` with these ``with:`` inputs; return the step's outputs.

    ``pages_url`` is the origin the sites are served from (local Pages' own listener).
    """
    site = f"{pages_url}/pages/{run.result.repo}/"
    if name == "checkout":
        dest = run.workspace / with_.get("path", "")
        if dest.exists() and any(dest.iterdir()):
            shutil.rmtree(dest)
        # A local bare repo needs no credentials: origin is the file URL, pushes just work.
        run_git("clone", "--quiet", run.clone_url, str(dest))
        run.write(f"Checked out {run.result.repo} into the workspace")
        head = run_git("-C", str(dest), "rev-parse", "HEAD")
        return {"commit": head, "ref": "refs/heads/main"}
    if name == "setup-python":
        # The receiver's own interpreter stands in; nothing is installed or changed.
        return {"python-path": sys.executable, "python-version": platform.python_version(),
                "cache-hit": "false"}
    if name == "upload-pages-artifact":
        source = run.workspace / (with_.get("path") or "_site")
        count = stage_artifact(source, run.temp / "pages-artifact")
        run.write(f"Staged {count} files from {with_.get('path') or '_site'} for Pages")
        return {"artifact_id": str(run.result.run_id)}
    if name == "deploy-pages":
        artifact = run.temp / "pages-artifact"
        if not artifact.is_dir():
            raise StepFailed("No Pages artifact was uploaded before deploy-pages.")
        publish_site(data_dir, run.result.repo, artifact, str(run.result.run_id))
        run.write(f"Published the site at {site}")
        return {"page_url": site}
    if name == "configure-pages":
        return {"base_url": site.rstrip("/"), "origin": pages_url,
                "base_path": f"/pages/{run.result.repo}"}
    run.write(f"actions/{name} has no local equivalent; treated as a no-op")
    return {}
