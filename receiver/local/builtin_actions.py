"""Local stand-ins for the ``actions/*`` steps of a generated repo's workflow.

GitHub's own actions cannot run here, so each gets a local equivalent: checkout clones the bare
repo, setup-python is the receiver's interpreter, the Pages actions stage and publish the site
into ``data_dir/sites`` (recording the deployment of the run's commit, as GitHub's Pages
deployments API would), upload-artifact keeps the files beside the run record. Any other
``actions/*`` step is logged and skipped as a no-op in the Action's own workflow; an app's
workflow may use only these (receiver.local.push_runs checks that before it runs).
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

from receiver.local.pages import publish_site, record_deployment, site_url, stage_artifact
from receiver.local.run_model import RunState, StepFailed, run_git
from receiver.private import DIR_MODE, FILE_MODE

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
        raise StepFailed(
            f'No artifact named "{name}" was found for this workflow run; '
            "upload one with actions/upload-pages-artifact first."
        )
    if len(found) > 1:
        raise StepFailed(
            f'Multiple artifacts named "{name}" were unexpectedly found for this '
            f"workflow run. Artifact count is {len(found)}."
        )
    return found[0]


def run_builtin(
    run: RunState, name: str, with_: dict[str, str], *, data_dir: Path, pages_url: str
) -> dict[str, str]:
    """Run ``actions/<name>`` with these ``with:`` inputs; return the step's outputs.

    ``pages_url`` is the origin the sites are served from (local Pages' own listener).
    """
    site = site_url(pages_url, run.result.repo)
    if name == "checkout":
        dest = run.workspace / with_.get("path", "")
        if dest.exists() and any(dest.iterdir()):
            shutil.rmtree(dest)
        # A local bare repo needs no credentials: origin is the file URL, pushes just work.
        run_git("clone", "--quiet", run.clone_url, str(dest))
        if run.github.get("event_name") == "push" and run.github.get("sha"):
            # A push run builds the pushed commit, even when main has moved on since.
            run_git("-C", str(dest), "checkout", "--quiet", "-B", "main", run.github["sha"])
        run.write(f"Checked out {run.result.repo} into the workspace")
        head = run_git("-C", str(dest), "rev-parse", "HEAD")
        return {"commit": head, "ref": "refs/heads/main"}
    if name == "setup-python":
        # The receiver's own interpreter stands in; nothing is installed. Like the real action,
        # it goes first on PATH unless the step says update-environment: false.
        if with_.get("update-environment", "true").strip().lower() != "false":
            bin_dir = str(Path(sys.executable).parent)
            run.env["PATH"] = os.pathsep.join([bin_dir, run.env.get("PATH", "")])
        return {
            "python-path": sys.executable,
            "python-version": platform.python_version(),
            "cache-hit": "false",
        }
    if name == "upload-pages-artifact":
        source = run.workspace / (with_.get("path") or "_site")
        artifact = _artifact_dir(data_dir, run, with_.get("name") or PAGES_ARTIFACT)
        shutil.rmtree(artifact, ignore_errors=True)  # a resumed attempt uploads again
        count = stage_artifact(source, artifact)
        run.write(
            f"Staged {count} files from {with_.get('path') or '_site'} for Pages "
            f"as the artifact {artifact.name!r}"
        )
        return {"artifact_id": f"{run.result.run_id}-{run.github.get('run_attempt', '1')}"}
    if name == "deploy-pages":
        artifact = _one_artifact(data_dir, run, with_.get("artifact_name") or PAGES_ARTIFACT)
        version = f"{run.result.run_id}-{run.github.get('run_attempt', '1')}"
        publish_site(data_dir, run.result.repo, artifact, version)
        # What notify waits for (GET …/pages/deployments/{sha}, receiver.local.github_api).
        record_deployment(
            data_dir,
            run.result.repo,
            str(run.github.get("sha") or ""),
            "succeed",
            run.result.run_id,
        )
        run.write(f"Published the site at {site}")
        return {"page_url": site}
    if name == "configure-pages":
        return {
            "base_url": site.rstrip("/"),
            "origin": pages_url,
            "base_path": f"/pages/{run.result.repo}",
        }
    if name == "upload-artifact":
        return _keep_artifact(run, with_, data_dir)
    run.write(f"actions/{name} has no local equivalent; treated as a no-op")
    return {}


def _keep_artifact(run: RunState, with_: dict[str, str], data_dir: Path) -> dict[str, str]:
    """upload-artifact's stand-in: copy the files beside the run record (the run's Artifacts),
    as ``runs/<id>.artifacts/<attempt>/<name>/``."""
    name = with_.get("name") or "artifact"
    source = Path(with_.get("path") or "")
    source = source if source.is_absolute() else run.workspace / source
    if not source.exists():
        run.write(f"No files were found at {with_.get('path')!r}; no artifact was uploaded")
        return {}
    dest = _artifact_dir(data_dir, run, name)  # this attempt's, like the Pages artifact
    shutil.rmtree(dest, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=False, ignore_dangling_symlinks=True)
    else:
        dest.mkdir(parents=True)
        shutil.copyfile(source, dest / source.name)
    for path in [dest, *dest.rglob("*")]:  # the report names the task: the owner's alone
        os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)
    run.write(f"Kept the artifact {name} with the run")
    return {"artifact-id": str(run.result.run_id)}
