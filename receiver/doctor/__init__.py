"""``llm-deploy doctor``: the preflight a user runs before going live.

Each check is a small function returning a ``CheckResult`` (``receiver.doctor.result``); the
checklist runs them against the real APIs through one injected httpx client
(``receiver.doctor.checklist``); ``--round-trip`` drives two rounds of a built-in task through the
real pipeline and times each phase (``receiver.doctor.round_trip``); ``receiver.doctor.cli`` is
the command line. The last result is kept as JSON in the data folder for the dashboard.
"""
