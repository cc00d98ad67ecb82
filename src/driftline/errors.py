"""driftline's exceptions.

Every error driftline raises on purpose derives from :class:`DriftlineError`, and each
subclass also derives from the builtin it refines, so ``except ValueError`` keeps working::

    DriftlineError (Exception)
    ├── ConfigError (ValueError)         spec / YAML / method names / options
    ├── IngestError (ValueError)         a batch refused whole; the store is unchanged
    ├── SchemaError (ValueError)         data does not match the spec or the profile
    ├── ProfileError (ValueError)        a profile that is missing, stale or for another spec
    ├── NotFittedError (RuntimeError)    a fitted object used before ``fit``
    ├── EmptyWindowError (LookupError)   a check over a range that holds no predictions
    ├── StoreError (OSError)             the store file cannot be opened or written
    ├── MissingExtraError (ImportError)  an optional extra is not installed; names the pip line
    ├── EngineError (RuntimeError)       the engine cannot start (Spark without Java)
    ├── SourceError (LookupError)        a Parquet path, Delta table or catalog table not found
    └── UnsupportedOperationError (NotImplementedError)   an engine gap, named

Messages follow one template: what, where, what we got, what is allowed, how to fix.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DriftlineError",
    "EmptyWindowError",
    "EngineError",
    "IngestError",
    "MissingExtraError",
    "NotFittedError",
    "ProfileError",
    "SchemaError",
    "SourceError",
    "StoreError",
    "UnsupportedOperationError",
    "first_line",
    "missing_extra",
    "name_list",
    "plain",
    "shorten",
]


class DriftlineError(Exception):
    """Root of every error driftline raises on purpose."""


class ConfigError(DriftlineError, ValueError):
    """A spec, option or method name that driftline cannot accept."""


class IngestError(DriftlineError, ValueError):
    """A batch refused whole; nothing of it was stored."""


class SchemaError(DriftlineError, ValueError):
    """Data that does not have the columns or types its role requires."""


class ProfileError(DriftlineError, ValueError):
    """A profile that is missing, unreadable or fitted on another spec."""


class NotFittedError(DriftlineError, RuntimeError):
    """A fitted object used before ``fit`` was called."""


class EmptyWindowError(DriftlineError, LookupError):
    """A check asked for a time range that holds no predictions."""


class StoreError(DriftlineError, OSError):
    """A store file that cannot be opened or written: locked, not a database, corrupt,
    read-only, or at a path that cannot hold it. The message names the cause and the fix."""


class MissingExtraError(DriftlineError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""


class EngineError(DriftlineError, RuntimeError):
    """An engine that cannot start: Spark without Java, or a session that fails to start.
    The message names what to install or set."""


class SourceError(DriftlineError, LookupError):
    """A source of predictions, labels or a reference (a Parquet path, a Delta table, a
    catalog table) that cannot be found or read; the message names it and the fix."""


class UnsupportedOperationError(DriftlineError, NotImplementedError):
    """An operation the current engine cannot run; the message names the alternative."""


#: Characters of a logged value shown in a message before it is cut.
SHOWN_CHARS = 80


def plain(text: str) -> str:
    """``text`` with its control and format characters escaped: a logged ``\\n``,
    ``\\x1b`` or ``\\u202e`` (which turns the rest of a line around) is shown as that,
    never acted on by a terminal or a browser.

    >>> print(plain("eu" + chr(0x202E) + chr(27) + "[31m"))
    eu\\u202e\\x1b[31m
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (a reader's or a database's complaint can run
    to pages), or its type's name when it says nothing.

    >>> first_line(ValueError("bad row\\n  at line 2"))
    'bad row'
    >>> first_line(OSError())
    'OSError'
    """
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def shorten(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(str(value))``, cut to about ``limit`` characters with the full length stated,
    so a 1 MB category value or column name cannot flood a message or a report.

    >>> shorten("abc")
    "'abc'"
    >>> shorten("x" * 1000, limit=10)
    "'xxxxxxxxxx…' (1,000 characters)"
    """
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    cut = repr(text[:limit])
    return f"{cut[:-1]}…{cut[-1]} ({len(text):,} characters)"


def name_list(names: Iterable[object], limit: int = 5) -> str:
    """Quote and join names for an error message, capped at ``limit``.

    >>> name_list(["a", "b", "c", "d", "e", "f", "g"])
    "'a', 'b', 'c', 'd', 'e' and 2 more"
    >>> name_list([])
    '(none)'
    """
    items = [shorten(n) for n in names]
    if not items:
        return "(none)"
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def missing_extra(what: str, package: str, extra: str) -> MissingExtraError:
    """The error for ``what`` needing ``package`` from the optional ``extra``.

    >>> print(missing_extra("Spark", "pyspark", "spark"))
    Spark needs pyspark, which is not installed; install it with: pip install 'driftline[spark]'
    """
    return MissingExtraError(
        f"{what} needs {package}, which is not installed; install it with: "
        f"pip install 'driftline[{extra}]'"
    )
