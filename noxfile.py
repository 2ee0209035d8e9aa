"""Developer sessions: ``nox`` runs them all (tests, typing, lint, docs)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "typing", "lint", "docs"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite against the emulated AWS account."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def typing(session: nox.Session) -> None:
    """``mypy --strict`` over ``src``."""
    session.install("-e", ".[typing]")
    session.run("mypy", "--strict", "src")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """``ruff`` lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation with ``--strict`` (broken links and references fail)."""
    session.install("-e", ".[docs]")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )
