"""Names in reverse engineering: legacy SQL names -> SpecQL names, in one place.

Shared by the stages that name things (``entities`` names entities and fields, ``steps`` names
actions, params and variables), so a table, a column or a variable gets the same name wherever
it is mentioned.

Tables -> entities (:func:`entity_name_for_table`):

- our own convention first: ``tb_<snake>`` is the entity ``<Pascal>`` exactly as the generator
  spells it back (``tb_order_line`` <-> ``OrderLine``; no singularising, ``tb_news`` is ``News``);
- other legacy prefixes ``tbl_``/``t_`` are dropped, then the last word is singularised
  (``customers`` -> ``Customer``, ``order_lines`` -> ``OrderLine``, ``addresses`` ->
  ``Address``, ``categories`` -> ``Category``; ``status``/``business``/``analysis`` stay);
- the schema does not take part in the name (two tables of one name in two schemas give the
  same entity name; specs qualify them with their schema).

Params and variables (:func:`strip_prefix`, :class:`NameMap`): a legacy function calls its
parameters ``p_total``/``in_total``/``_total`` and its variables ``v_total``/``l_total``/
``_total``; the spec calls them ``total`` (``$total`` for a param). One known prefix is stripped
when that is unambiguous: the bare name is a lower-case identifier, not a reserved SQL word, not
reserved by the framework (``id``, ``tenant_id`` ... for params) and not the name of another
param/variable of the same function or (for variables) of a column the function's queries
see (a variable named like a column would be read as the column inside queries).

Functions -> actions (:func:`action_name_for_function`): the generator's ``fn_<schema>_<action>``
gives ``<action>``; other names lose a ``fn_`` prefix and are snake-cased.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Prefixes a table name may carry, our own first. ``tb_`` names are ours: no singularising.
OWN_TABLE_PREFIX = "tb_"
LEGACY_TABLE_PREFIXES = ("tbl_", "t_")

PARAM_PREFIXES = ("p_", "in_", "_")
VARIABLE_PREFIXES = ("v_", "l_", "_")

# Names the generated functions own: a param cannot be called like that (the function already
# has p_id, p_user_id, p_tenant_id) and a field cannot either.
RESERVED_PARAM_NAMES = frozenset({"id", "tenant_id", "user_id"})

_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")

# Words whose trailing "s" is not a plural (a small list beats a wrong entity name).
_NOT_PLURAL_ENDINGS = ("ss", "us", "is", "news", "series", "species", "data")
_DOUBLE_S_PLURALS = ("statuses", "buses", "campuses", "viruses", "bonuses", "aliases")
_IRREGULAR_PLURALS = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "indices": "index",
    "matrices": "matrix",
    "criteria": "criterion",
}

# PostgreSQL's reserved words (plus type/function-name keywords): a bare name must not be one.
# Kept here as data so this module needs no parser; it is the list of PostgreSQL 17.
SQL_RESERVED_WORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ]
)


def snake(name: str) -> str:
    """``OrderLine`` -> ``order_line``; ``order-line`` -> ``order_line``."""
    return _NON_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", name)).strip("_").lower()


def pascal(snake_name: str) -> str:
    """``order_line`` -> ``OrderLine`` (digits kept: ``tier_2`` -> ``Tier2``)."""
    return "".join(part[:1].upper() + part[1:] for part in snake(snake_name).split("_") if part)


def singular(word: str) -> str:
    """The singular of an English plural table word; anything unsure stays as it is."""
    lower = word.lower()
    if lower in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[lower]
    if len(lower) <= 3 or not lower.endswith("s") or lower.endswith(_NOT_PLURAL_ENDINGS):
        return word
    if lower.endswith("ies"):
        return word[:-3] + "y"
    if lower.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if lower.endswith(_DOUBLE_S_PLURALS):
        return word[:-2]
    return word[:-1]


def entity_name_for_table(schema: str | None, table: str) -> str:
    """The entity name of a table (see the module docstring). ``schema`` is accepted so every
    caller passes what it has; it does not change the name."""
    del schema  # the entity name is the same in every schema
    name = table.lower()
    if name.startswith(OWN_TABLE_PREFIX) and len(name) > len(OWN_TABLE_PREFIX):
        return pascal(name[len(OWN_TABLE_PREFIX) :])
    for prefix in LEGACY_TABLE_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    words = snake(name).split("_")
    words[-1] = singular(words[-1])
    return pascal("_".join(words))


def action_name_for_function(schema: str | None, name: str) -> str:
    """``fn_crm_qualify_lead`` in schema crm -> ``qualify_lead``; ``fn_close_order`` ->
    ``close_order``; ``CloseOrder`` -> ``close_order``."""
    lowered = snake(name)
    if schema:
        own = f"fn_{snake(schema)}_"
        if lowered.startswith(own) and len(lowered) > len(own):
            return lowered[len(own) :]
    if lowered.startswith("fn_") and len(lowered) > 3:
        return lowered[3:]
    return lowered or "action"


def is_plain_name(name: str) -> bool:
    """A lower-case identifier that is not a reserved SQL word: usable bare in a spec."""
    return bool(_IDENT.match(name)) and name not in SQL_RESERVED_WORDS


def strip_prefix(name: str, prefixes: Iterable[str]) -> str | None:
    """``name`` without its first matching prefix, or None when none matches or what is left
    is not a plain name (``p_`` alone, ``_1``, ``v_select``)."""
    for prefix in prefixes:
        if name.startswith(prefix) and len(name) > len(prefix):
            bare = name[len(prefix) :]
            return bare if is_plain_name(bare) and not bare[0].isdigit() else None
    return None


class NameMap:
    """Spec names for one function's params and variables, decided together.

    ``add_param``/``add_variable`` register a SQL name; :meth:`resolve` then decides every spec
    name at once (a prefix is stripped only when no other name or column claims the bare
    name), so ``p_status`` and ``v_status`` in one function do not both become ``status``.
    """

    def __init__(self, columns: Iterable[str] = (), reserved: Iterable[str] = ()) -> None:
        self.columns = frozenset(columns)
        self.reserved = frozenset(reserved)
        self._params: list[str] = []
        self._variables: list[str] = []
        self._fixed: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.variables: dict[str, str] = {}

    def add_param(self, sql_name: str, spec_name: str | None = None) -> None:
        self._params.append(sql_name)
        if spec_name is not None:
            self._fixed[sql_name] = spec_name

    def add_variable(self, sql_name: str, spec_name: str | None = None) -> None:
        self._variables.append(sql_name)
        if spec_name is not None:
            self._fixed[sql_name] = spec_name

    def resolve(self) -> NameMap:
        taken_params: set[str] = set()
        taken_vars: set[str] = set()
        all_sql = set(self._params) | set(self._variables)

        def choose(sql: str, prefixes, taken: set[str], reserved: frozenset[str], is_var: bool):
            if sql in self._fixed:
                return self._fixed[sql]
            bare = strip_prefix(sql, prefixes)
            if (
                bare is not None
                and bare not in taken
                and bare not in reserved
                and bare not in all_sql
                and not (is_var and bare in self.columns)
            ):
                return bare
            return _unique(_plain(sql), taken | reserved)

        for sql in self._params:
            name = choose(
                sql, PARAM_PREFIXES, taken_params, RESERVED_PARAM_NAMES | self.reserved, False
            )
            taken_params.add(name)
            self.params[sql] = name
        for sql in self._variables:
            name = choose(sql, VARIABLE_PREFIXES, taken_vars, self.reserved, True)
            taken_vars.add(name)
            self.variables[sql] = name
        return self


def _plain(name: str) -> str:
    """A usable spec name for any SQL name: snake-cased, a reserved word gets ``_value``."""
    base = snake(name) or "value"
    if base[0].isdigit():
        base = f"v{base}"
    if not is_plain_name(base):
        base = f"{base}_value"
    return base


def _unique(name: str, taken: set[str] | frozenset[str]) -> str:
    if name not in taken and name not in RESERVED_PARAM_NAMES:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


__all__ = [
    "PARAM_PREFIXES",
    "RESERVED_PARAM_NAMES",
    "SQL_RESERVED_WORDS",
    "VARIABLE_PREFIXES",
    "NameMap",
    "action_name_for_function",
    "entity_name_for_table",
    "is_plain_name",
    "pascal",
    "singular",
    "snake",
    "strip_prefix",
]
