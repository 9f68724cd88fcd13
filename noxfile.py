"""The one entry point: ``nox`` runs the checks CI runs; ``nox -s demo`` / ``bench`` on demand."""

from __future__ import annotations

import glob
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
# CI also builds the docs site and checks the release artefacts.
nox.options.sessions += ["docs", "build"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


# python=None: run on the interpreter nox itself runs on, whatever 3.10+ the machine has.
@nox.session(python=None)
def tests(session: nox.Session) -> None:
    """Run the test suite with branch coverage."""
    session.install("-e", ".", *_group("test"))
    session.run(
        "pytest",
        "--cov=swoogo_async",
        "--cov-branch",
        "--cov-report=term:skip-covered",
        *session.posargs,
    )


@nox.session(python=None)
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=None)
def typecheck(session: nox.Session) -> None:
    """Type-check the package, tests and benchmarks with mypy --strict."""
    session.install("-e", ".", *_group("test"), *_group("bench"), "mypy>=1.10", "nox")
    session.run("mypy")


@nox.session(python=None)
def demo(session: nox.Session) -> None:
    """Run the demo bulk import against the embedded fake Swoogo server."""
    session.install("-e", ".[progress]")
    session.run("python", "-m", "swoogo_async", "demo", *session.posargs)


@nox.session(python=None)
def bench(session: nox.Session) -> None:
    """Run the benchmarks (SDK vs raw aiohttp, same process; pacing; several processes)."""
    session.install("-e", ".[redis,cache]", *_group("bench"))
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session(python=None)
def docs(session: nox.Session) -> None:
    """Build the documentation site; a broken link or API reference fails (``--strict``)."""
    session.install(*_group("docs"))
    # NO_MKDOCS_2_WARNING: silence mkdocs-material's banner about a future MkDocs 2.
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=None)
def build(session: nox.Session) -> None:
    """Build the sdist and wheel into ``dist/`` and check them with twine."""
    session.install(*_group("release"))
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build")
    session.run("twine", "check", "--strict", *sorted(glob.glob("dist/*")))
