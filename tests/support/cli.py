"""The `redress` command run in this process, as a merchant or operator would run it in a terminal."""

from __future__ import annotations

from click.testing import CliRunner, Result

from plugin.cli import main


def _checked(result: Result, args: tuple[str, ...], check: bool) -> Result:
    if check and result.exit_code != 0:
        raise AssertionError(f"redress {' '.join(args)} exited {result.exit_code}: {result.stderr}") \
            from result.exception
    return result


def redress(app, *args: str, check: bool = True) -> Result:
    """`redress ARGS` against `app` (Flask's test runner); exit_code, stdout and stderr as the shell sees them."""
    return _checked(app.test_cli_runner().invoke(cli=main, args=list(args)), args, check)


def redress_env(env: dict[str, str | None], *args: str, check: bool = True) -> Result:
    """`redress ARGS` building its application from the environment, with `env` set (None unsets a name)."""
    return _checked(CliRunner().invoke(main, list(args), env=env), args, check)
