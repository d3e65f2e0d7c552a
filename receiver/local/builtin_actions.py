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

PAGES_ARTIFACT = "github-pages"  # the name both Pages actions use unless told another


def _artifact_dir(data_dir: Path, run: RunState, name: str) -> Path:
    """Where this attempt's artifact ``name`` is kept: ``runs/<id>.artifacts/<attempt>/<name>``.

    Like GitHub, a run keeps the artifacts of all its attempts (a re-run does not remove them).
    """
    if not name or "/" in name or name.startswith("."):
        raise StepFailed(f"The artifact name {name!r} is not a plain file name.")
    attempt = str(run.github.get("run_attempt", "1"))
    return data_dir / "runs" / f"{run.result.run_id}.artifacts" / attempt / name


def _one_artifact(data_dir: Path, run: RunState, name: str) -> Path:
    """The run's one artifact called ``name`` over all attempts; refuse none or several, as
    actions/deploy-pages does (its error words, actions/deploy-pages#338)."""
    kept = data_dir / "runs" / f"{run.result.run_id}.artifacts"
    found = sorted(p for p in kept.glob(f"*/{name}") if p.is_dir()) if kept.is_dir() else []
    if not found:
        raise StepFailed(f'No artifact named "{name}" was found for this workflow run; '
                         "upload one with actions/upload-pages-artifact first.")
    if len(found) > 1:
        raise StepFailed(f'Multiple artifacts named "{name}" were unexpectedly found for this '
                         f"workflow run. Artifact count is {len(found)}.")
    return found[0]


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
        artifact = _artifact_dir(data_dir, run, with_.get("name") or PAGES_ARTIFACT)
        shutil.rmtree(artifact, ignore_errors=True)  # a resumed attempt uploads again
        count = stage_artifact(source, artifact)
        run.write(f"Staged {count} files from {with_.get('path') or '_site'} for Pages "
                  f"as the artifact {artifact.name!r}")
        return {"artifact_id": f"{run.result.run_id}-{run.github.get('run_attempt', '1')}"}
    if name == "deploy-pages":
        artifact = _one_artifact(data_dir, run, with_.get("artifact_name") or PAGES_ARTIFACT)
        version = f"{run.result.run_id}-{run.github.get('run_attempt', '1')}"
        publish_site(data_dir, run.result.repo, artifact, version)
        run.write(f"Published the site at {site}")
        return {"page_url": site}
    if name == "configure-pages":
        return {"base_url": site.rstrip("/"), "origin": pages_url,
                "base_path": f"/pages/{run.result.repo}"}
    run.write(f"actions/{name} has no local equivalent; treated as a no-op")
    return {}
