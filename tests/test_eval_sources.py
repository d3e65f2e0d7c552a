"""Task sources of ``llm-deploy eval``: the seeded template generator and TASK argument forms."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from action.attachments import from_request
from receiver.evaluation.errors import EvalError
from receiver.evaluation.generator import TEMPLATES
from receiver.evaluation.sources import BUNDLED, DEFAULT_TASKS, resolve
from receiver.request import parse_request
from tests.conftest import TASKS_DIR

NAMES = sorted(TEMPLATES)


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_always_gives_the_same_instance(name: str) -> None:
    assert TEMPLATES[name](4821) == TEMPLATES[name](4821)


@pytest.mark.parametrize("name", NAMES)
def test_different_seeds_give_different_tasks_nonces_and_data(name: str) -> None:
    (_, a), (_, b) = TEMPLATES[name](101)[0], TEMPLATES[name](202)[0]
    assert a["task"] != b["task"] and a["nonce"] != b["nonce"]
    assert (a["checks"], a["attachments"]) != (b["checks"], b["attachments"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [1, 77, 9000])
def test_every_generated_request_is_one_the_receiver_accepts(name: str, seed: int) -> None:
    rounds = TEMPLATES[name](seed)
    assert [r["round"] for _, r in rounds] == [1, 2]
    assert rounds[1][1]["task"] == rounds[0][1]["task"]
    assert rounds[1][1]["nonce"] != rounds[0][1]["nonce"]
    for _, request in rounds:
        parsed = parse_request(request)
        assert parsed.task == request["task"] and parsed.checks


@pytest.mark.parametrize("seed", range(5))
def test_the_sales_total_in_the_check_is_the_sum_of_the_generated_csv(seed: int) -> None:
    (_, r1), _ = TEMPLATES["sum-of-sales"](seed)
    (csv,) = from_request(r1["attachments"])
    rows = csv.data.decode().strip().splitlines()[1:]
    total = round(sum(float(row.rsplit(",", 1)[1]) for row in rows), 2)
    found = re.search(r"- ([\d.]+)\) < 0\.01", r1["checks"][-1])
    assert found is not None and float(found.group(1)) == pytest.approx(total)
    assert f"Sales Summary {seed}" in r1["brief"] and f"`Sales Summary {seed}`" in r1["checks"][0]


def test_the_github_template_uses_its_seed_in_the_form_id() -> None:
    (_, r1), _ = TEMPLATES["github-user-created"](4821)
    assert 'form id="github-user-4821"' in r1["brief"]
    assert "#github-user-4821" in r1["checks"][0]


def test_the_markdown_round_two_checks_text_from_the_generated_file() -> None:
    for seed in range(20):
        (_, r1), (label, r2) = TEMPLATES["markdown-to-html"](seed)
        if label == "r2-tabs":
            (md,) = from_request(r1["attachments"])
            word = re.search(r'includes\("(# \w+)"\)', r2["checks"][1])
            assert word is not None and word.group(1) in md.data.decode()
            return
    pytest.fail("no seed in 0..19 picked the tabs variant")


def test_resolve_reads_every_argument_form(tmp_path: Path) -> None:
    single = tmp_path / "mine.json"
    single.write_text(json.dumps(json.loads((TASKS_DIR / "SumOfSales-r1.json").read_text())))
    found = resolve(
        [
            "SumOfSales",
            str(TASKS_DIR / "sum-of-sales-601-r2b.json"),
            "gen:markdown-to-html@7",
            str(single),
        ]
    )
    assert [t.name for t in found] == [
        "SumOfSales",
        "sum-of-sales-601",
        TEMPLATES["markdown-to-html"](7)[0][1]["task"],
        "mine",
    ]
    assert found[2].origin == "gen:markdown-to-html@7"
    assert len(resolve([str(TASKS_DIR)])) == 7


def test_a_task_runs_one_round_two_per_run_cycling_through_the_variants() -> None:
    (task,) = resolve(["sum-of-sales-601"])
    assert [label for label, _ in task.rounds(1)] == ["r1", "r2a"]
    assert [label for label, _ in task.rounds(2)] == ["r1", "r2b"]
    assert [label for label, _ in task.rounds(3)] == ["r1", "r2a"]


def test_no_arguments_means_fresh_instances_of_the_templates() -> None:
    first, second = resolve([], seed=1), resolve([], seed=2)
    assert [t.origin.split("@")[0] for t in first] == list(DEFAULT_TASKS)
    assert [t.name for t in first] != [t.name for t in second]


def test_the_bundled_corpus_is_the_shared_one() -> None:
    for path in TASKS_DIR.glob("*.json"):
        assert (BUNDLED / path.name).read_bytes() == path.read_bytes(), path.name


BAD = [
    ("unknown-name", ["no-such-task"], "Unknown task 'no-such-task'"),
    ("unknown-template", ["gen:todo-list"], "No template 'todo-list'"),
    ("bad-seed", ["gen:sum-of-sales@x"], "not a whole number"),
    ("missing-file", ["nothere.json"], "No request file"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_task_arguments_say_what_to_give(name: str, args: list[str], message: str) -> None:
    with pytest.raises(EvalError, match=re.escape(message)):
        resolve(args)


def test_a_file_that_is_not_a_request_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x-r1.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(EvalError, match="not a deploy request"):
        resolve([str(path)])
