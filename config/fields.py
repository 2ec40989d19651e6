"""Value types of the config, parsed when it loads, and the strict base model.

Every problem message names what is wrong and what is expected, never the value itself: a URL
or DSN may carry a password, and a webhook URL is a secret as a whole.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,20}$")
_HTTP_EXAMPLE = "https://api.example.com"
_DSN_EXAMPLE = "postgresql://user@host:5432/db, or key=value pairs such as host=db dbname=app"


def suggestion(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` was probably meant to be, if one is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_message(what: str, word: str, candidates: Collection[str], *, list_known: bool = False) -> str:
    """`unknown key; did you mean timeout_s?`, optionally with every known name."""
    message = f"unknown {what}"
    close = suggestion(word, candidates)
    if close is not None:
        message += f"; did you mean {close}?"
    if list_known or close is None:
        message += f" (known: {', '.join(sorted(candidates))})"
    return message


def problem(kind: str, loc: tuple[int | str, ...], message: str, value: Any = None) -> InitErrorDetails:
    """One pydantic error with a message of our own (kept verbatim: `{` in it is not a field)."""
    return InitErrorDetails(
        type=PydanticCustomError(kind, "{message}", {"message": message}), loc=loc, input=value
    )


def relocated(
    errors: Iterable[Mapping[str, Any]], prefix: tuple[int | str, ...] = ()
) -> list[InitErrorDetails]:
    """Errors of an inner validation, as errors of this one (`prefix` + their own location)."""
    return [problem(str(e["type"]), (*prefix, *e["loc"]), str(e["msg"]), e.get("input")) for e in errors]


def _scheme(value: str) -> str | None:
    """The scheme, when the value plainly has one (`x://`); never a fragment of a password."""
    head, sep, _ = value.partition("://")
    return head.lower() if sep and _SCHEME.match(head) else None


def http_url_problem(value: str) -> str | None:
    if any(c.isspace() for c in value):
        return "must be a URL without spaces"
    scheme = _scheme(value)
    if scheme is None:
        return f"not a URL: expected http:// or https:// and a host, e.g. {_HTTP_EXAMPLE}"
    if scheme not in ("http", "https"):
        return f"scheme {scheme}:// is not http or https"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (reading it is what checks it)
    except ValueError:
        return f"not a URL (bad host or port): expected e.g. {_HTTP_EXAMPLE}"
    if not parts.hostname:
        return f"has no host: expected e.g. {_HTTP_EXAMPLE}"
    return None


def url_template_problem(value: str, placeholder: str, example: str) -> str | None:
    if placeholder not in value:
        return f"must contain {placeholder}, e.g. https://{placeholder}"
    return http_url_problem(value.replace(placeholder, example))


def redis_url_problem(value: str) -> str | None:
    if any(c.isspace() for c in value):
        return "must be a URL without spaces"
    scheme = _scheme(value)
    if scheme not in ("redis", "rediss", "unix"):
        given = f"scheme {scheme}:// is not" if scheme else "not a URL: expected"
        return f"{given} redis://, rediss:// or unix:// (e.g. redis://host:6379/0)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (reading it is what checks it)
    except ValueError:
        return "not a Redis URL (bad host or port): expected e.g. redis://host:6379/0"
    if scheme == "unix":
        return None if parts.path else "unix:// needs the socket's path, e.g. unix:///run/redis.sock"
    if not parts.hostname:
        return "has no host: expected e.g. redis://host:6379/0"
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return "the path must be the database number, e.g. redis://host:6379/0"
    return None


def postgres_dsn_problem(value: str) -> str | None:
    if "://" in value:
        scheme = _scheme(value)
        if scheme not in ("postgresql", "postgres"):
            given = f"scheme {scheme}://" if scheme else "the scheme"
            return f"{given} is not postgresql: expected {_DSN_EXAMPLE}"
    import psycopg  # imported here: most commands never load a DSN
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(value)
    except psycopg.Error:
        # libpq's own message may quote the DSN, password included
        return f"not a PostgreSQL DSN: expected {_DSN_EXAMPLE}"
    port = str(params.get("port") or "")
    if port and not all(p.strip().isdigit() for p in port.split(",")):
        return "the port must be a number"
    return None


def database_url_problem(value: str) -> str | None:
    """healthmon's own store: an SQLAlchemy URL, PostgreSQL (psycopg 3) or SQLite."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(value)
        url.port  # noqa: B018 (reading it is what checks it)
    except Exception:  # sqlalchemy raises ArgumentError or ValueError
        return "not a database URL: expected postgresql://user@host:5432/db or sqlite:///path/healthmon.db"
    if url.drivername not in ("postgres", "postgresql", "postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        return f"{url.drivername}:// is not supported: use postgresql:// (psycopg 3) or sqlite:///path"
    return None


def _checked(check: Callable[[str], str | None]) -> Callable[[str | None], str | None]:
    """A validator from a problem finder; None (unset) passes."""

    def validate(value: str | None) -> str | None:
        found = None if value is None else check(value)
        if found is not None:
            raise PydanticCustomError("value_error", "{message}", {"message": found})
        return value

    return validate


def _blank_is_unset(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _as_text(value: Any) -> Any:
    # YAML reads `profile_id: 12345` as a number and `protocol_version: 2025-11-25` as a date;
    # both are meant as text. A boolean is not.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


#: a string option; numbers and dates YAML read from unquoted text are taken as their text
Text = Annotated[str, BeforeValidator(_as_text)]
#: an http(s) URL with a host
RequiredHttpUrl = Annotated[str, AfterValidator(_checked(http_url_problem))]
#: the same, optional: blank means unset
HttpUrl = Annotated[str | None, BeforeValidator(_blank_is_unset), AfterValidator(_checked(http_url_problem))]
#: a PostgreSQL URL or libpq key=value string that libpq parses; blank means unset
PostgresDsn = Annotated[
    str | None, BeforeValidator(_blank_is_unset), AfterValidator(_checked(postgres_dsn_problem))
]
#: redis://, rediss:// or unix://; blank means unset
RedisUrl = Annotated[
    str | None, BeforeValidator(_blank_is_unset), AfterValidator(_checked(redis_url_problem))
]


class StrictModel(BaseModel):
    """Unknown keys are errors, each naming the key that was probably meant."""

    # a ValidationError printed anywhere must not show a value: it may be a secret
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)
    #: what an unknown key of this model is called in messages
    unknown_what: ClassVar[str] = "key"

    @model_validator(mode="wrap")
    @classmethod
    def _explain_unknown_keys(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            known = [f.alias or name for name, f in cls.model_fields.items()]
            errors: list[InitErrorDetails] = []
            for error in exc.errors():
                loc = error["loc"]
                if error["type"] == "extra_forbidden" and len(loc) == 1:
                    message = unknown_message(cls.unknown_what, str(loc[0]), known)
                    errors.append(problem("unknown_key", loc, message, error.get("input")))
                else:
                    errors += relocated([error])
            raise ValidationError.from_exception_data(cls.__name__, errors) from None
