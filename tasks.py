"""Tasks for `invoke` in this checkout: the tool's own tasks plus developer tasks."""

from __future__ import annotations

from typing import Any

from invoke import Collection  # type: ignore[attr-defined]

from cross_compiler import cli
from cross_compiler.cli import task


@task(help={"cpu": "cpu(s) to refresh, comma-separated, or all"})
def update_golden(c: Any, cpu: str = "all") -> None:
    """Rewrite tests/golden/<cpu>/ from the current templates (explicit, never automatic)."""
    c.run(f"python -m tests.golden_inputs --update --cpu={cpu}", pty=False)


@task(help={})
def update_python_table(c: Any) -> None:
    """Rewrite the README's Python x cpu x suite table from suites/ and toolchains/."""
    from tests.readme_tables import update_readme

    print(update_readme())


ns = Collection(*cli.ns.tasks.values(), update_golden, update_python_table)
