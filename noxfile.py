"""The one entry point: ``nox`` runs the checks CI runs; ``nox -s demo`` / ``bench`` on demand."""

from __future__ import annotations

import glob
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "decoders"]
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


# The suites that read responses, on the roads the main run does not take.
_DECODING_TESTS = (
    "tests/test_pure_typed.py",
    "tests/test_pure_models.py",
    "tests/test_json.py",
    "tests/test_client.py",
    "tests/test_bulk.py",
)


@nox.session(python=None)
def decoders(session: nox.Session) -> None:
    """Response decoding on the oldest msgspec we allow, and on the standard library
    (PyPy's road, or ``SWOOGO_ASYNC_JSON=stdlib``)."""
    session.install("-e", ".", *_group("test"), "msgspec==0.18.0")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *_DECODING_TESTS)
    stdlib = [path for path in _DECODING_TESTS if path != "tests/test_pure_typed.py"]
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", *stdlib, env={"SWOOGO_ASYNC_JSON": "stdlib"}
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
    """Run the benchmarks (SDK vs raw aiohttp, same process, medians and ratios)."""
    session.install("-e", ".", *_group("bench"))
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session(python=None)
def docs(session: nox.Session) -> None:
    """Build the documentation site; a broken link or API reference fails (``--strict``)."""
    session.install(*_group("docs"))
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(python=None)
def build(session: nox.Session) -> None:
    """Build the sdist and wheel into ``dist/`` and check them with twine."""
    session.install(*_group("release"))
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build")
    session.run("twine", "check", "--strict", *sorted(glob.glob("dist/*")))
