"""Shared test set-up.

A skipped test counts as a failure here: a test that did not run proves nothing, and
CI must not report it as passing.
"""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped, and skips count as failures in this project: {report.longrepr}"
