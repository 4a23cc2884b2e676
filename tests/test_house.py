"""The house rules a reader relies on, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The domain and the jobs read as short stages; web views and the CLI may be longer.
SHORT = ["plugin/orders", "plugin/incidents", "plugin/compensation", "plugin/intake", "plugin/shops", "plugin/messages",
         "plugin/desk", "plugin/analytics", "plugin/crises", "plugin/demo",
         "plugin/vocabulary.py", "jobs"]
MAX_LINES = 45


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            yield node.name, node.lineno, (node.end_lineno or node.lineno) - start + 1


def test_no_function_in_the_domain_or_the_jobs_is_longer_than_a_screen():
    files = [p for where in SHORT for p in ([ROOT / where] if where.endswith(".py") else (ROOT / where).rglob("*.py"))]
    assert len(files) > 20
    long = [f"{p.relative_to(ROOT)}:{line} {name} ({n} lines)"
            for p in files for name, line, n in _functions(p) if n > MAX_LINES]
    assert long == []


def test_the_pure_domain_loads_without_the_web_the_database_or_redis():
    """What a connector or a script imports to read orders must not start Flask, SQLAlchemy, Redis or RQ."""
    import subprocess
    import sys

    code = ("import sys, plugin.orders.facts, plugin.incidents.detect, plugin.compensation.rules, plugin.vocabulary; "
            "print(sorted(m for m in ('flask', 'sqlalchemy', 'redis', 'rq') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
