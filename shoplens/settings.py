"""The one config convention of every model family.

Each family has a frozen dataclass of settings (``ClvConfig``,
``ForecastConfig``, ``PropensityConfig``) validated on construction and built
from the dbt vars in one place (its ``config_from_dbt``). A value a var does
not allow raises :class:`ConfigError` (or a family subclass of it) whose
message names the var and the values it allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class ConfigError(ValueError):
    """A dbt var has a value outside what it allows; the message names both."""


def invalid(var: str, value: object, allowed: str) -> str:
    """The message of a :class:`ConfigError`: the var, its value, what it allows."""
    return f"dbt var {var} has an invalid value {value!r}; allowed: {allowed}"


def is_blank(value: object) -> bool:
    """True for an unset var (None, '', 'None', 'none', 'null' as dbt renders them)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def flag(value: object) -> bool:
    """A dbt var as a boolean (``true``/``false``, rendered by Jinja as ``True``/``False``; ``1``/``0``)."""
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"not a boolean: {value!r}")
    return text in ("true", "1")


def read_var(
    settings: Mapping[str, object] | Callable[[str], object],
    var: str,
    default: object,
    cast: Callable[[object], object],
    error: type[ConfigError] = ConfigError,
) -> object:
    """``cast`` of the var's value, ``default`` when it is unset; raises ``error``
    (a :class:`ConfigError`) naming the var when the value cannot be read."""
    get = settings.get if isinstance(settings, Mapping) else settings
    raw = get(var)
    if is_blank(raw):
        return default
    try:
        return cast(raw)
    except (TypeError, ValueError) as exc:
        raise error(f"dbt var {var} has an invalid value {raw!r}: {exc}") from exc
