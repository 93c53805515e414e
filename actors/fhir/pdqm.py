"""ITI-78 Mobile Patient Demographics Query (PDQm): the search parameters of
`GET [base]/Patient` read into the shared query core's `DemographicsQuery`, the paging
state, and the refusals as (HTTP status, OperationOutcome issue).

Supported parameters: family, given (FHIR string search: starts with, case- and
accent-insensitive; `:exact` for equality), birthdate (a full date, `eq` or no prefix),
gender, identifier (`system|value`, `value`, or `system|` to ask for the identifiers of
one domain, as PDQm 3.78.4.1.3 lets a consumer restrict the domains returned),
address-city, address-postalcode, address-country, mothersMaidenName, _id, _count,
_format, and the hub's own paging token `_page` (valid once, for the life of a
continuation pointer of the query core). `telecom` and `address` are evaluated here on
the persons the query core finds by the other parameters, so they need at least one of
those. The store keeps no state of an address: `address-state` is refused. Any other
parameter, modifier or OR list is refused (400, `not-supported`): answering as if it were
absent would widen the result. A search too broad for the query core's caps
(`check_breadth`) is refused with 400 `too-costly`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from actors.fhir import resources
from actors.identity import query as core_query
from actors.identity.model import Cx, Hd, normalise
from actors.identity.query import DemographicsQuery, PatientView

DEFAULT_COUNT = 20
MAX_COUNT = 500
GENDERS = {"male": "M", "female": "F", "unknown": "U", "other": "O"}
_DATE = re.compile(r"^(eq)?([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CONTROL = {"_format", "_count", "_page"}
_SEARCH = {
    "family", "given", "birthdate", "gender", "identifier", "address-city", "address-postalcode",
    "address-country", "mothersMaidenName", "_id", "telecom", "address",
}
_DIALLING = str.maketrans("", "", " .-()/")


class SearchError(resources.FhirError):
    """A search the supplier refuses."""


@dataclass
class Search:
    query: DemographicsQuery
    count: int = DEFAULT_COUNT
    page: str = ""
    resource_id: str = ""
    parameters: list[tuple[str, str]] = field(default_factory=list)
    phone: str = ""  # telecom (phone system), dialling characters removed
    address: str = ""  # address: normalised start of any address part

    @property
    def filters(self) -> bool:
        """Whether some parameters are evaluated on the persons found (`matches`)."""
        return bool(self.phone or self.address)

    def matches(self, view: PatientView) -> bool:
        """telecom (FHIR token) and address (FHIR string) on one person."""
        if self.phone and view.traits.phone.translate(_DIALLING) != self.phone:
            return False
        if self.address:
            parts = [normalise(part) for a in view.traits.addresses
                     for part in (a.street, a.city, a.postal_code, a.country)]
            if not any(part.startswith(self.address) for part in parts):
                return False
        return True


def _string(name: str, modifier: str, value: str) -> str:
    """A FHIR string search as the query core's name form: `X*` (starts with) unless
    `:exact`."""
    if modifier not in ("", "exact"):
        raise SearchError(400, "not-supported", f"the modifier :{modifier} is not supported on {name}", name)
    if "*" in value:
        raise SearchError(400, "invalid", f"{name} may not contain '*'", name)
    return value if modifier == "exact" else f"{value}*"


def parse(pairs: list[tuple[str, str]]) -> Search:
    """Read ITI-78 search parameters (PDQm 3.78.4.1.2); raises `SearchError`."""
    search = Search(DemographicsQuery())
    query = search.query
    seen: set[str] = set()
    identifiers: list[Cx] = []
    domains: list[Hd] = []
    for raw_name, value in pairs:
        name, _, modifier = raw_name.partition(":")
        if name not in _SEARCH | _CONTROL:
            raise SearchError(400, "not-supported", f"unknown or unsupported search parameter {raw_name}", raw_name)
        if name in _CONTROL:
            if name == "_count":
                count = core_query.quantity(value)
                if count is None:
                    raise SearchError(400, "invalid", "_count must be a positive integer", "_count")
                search.count = min(count, MAX_COUNT)
            elif name == "_page":
                search.page = value
            continue
        search.parameters.append((raw_name, value))
        if not value:
            raise SearchError(400, "invalid", f"{raw_name} has no value", raw_name)
        if "," in value:
            raise SearchError(400, "not-supported", f"{raw_name}: OR lists (',') are not supported", raw_name)
        if name != "identifier" and name in seen:
            raise SearchError(400, "not-supported", f"{name} may be given once", name)
        seen.add(name)
        if name in ("family", "given"):
            setattr(query, name, _string(name, modifier, value))
            continue
        if modifier:
            raise SearchError(400, "not-supported", f"the modifier :{modifier} is not supported on {name}", raw_name)
        _token(search, name, value, identifiers, domains)
    query.identifiers = tuple(identifiers)
    query.domains = tuple(domains)
    if query.is_empty() and not search.resource_id:
        if search.filters:
            raise SearchError(400, "not-supported",
                              "telecom and address need another search parameter (name, birthdate, identifier...)")
        raise SearchError(400, "required", "the search states no parameter to match")
    return search


def _token(search: Search, name: str, value: str, identifiers: list[Cx], domains: list[Hd]) -> None:
    """One search parameter other than the names and the control parameters, into
    `search` (identifiers and their domains are collected in the lists given)."""
    if name == "birthdate":
        match = _DATE.match(value)
        if match is None:
            raise SearchError(400, "not-supported",
                              "birthdate: a full date YYYY-MM-DD (prefix eq or none) is supported", name)
        try:
            date(*(int(part) for part in match.group(2, 3, 4)))
        except ValueError:
            raise SearchError(400, "invalid", f"birthdate {value} is not a date", name) from None
        search.query.birth_date = "".join(match.group(2, 3, 4))
    elif name == "gender":
        if value not in GENDERS:
            raise SearchError(400, "code-invalid", f"gender {value} is not male, female, other or unknown", name)
        search.query.sex = GENDERS[value]
    elif name == "identifier":
        system, bar, ident = value.rpartition("|") if "|" in value else ("", "", value)
        if bar and not ident:
            if not system:
                raise SearchError(400, "invalid", "identifier '|' names neither a system nor a value", name)
            domains.append(resources.authority_of(system))
        else:
            identifiers.append(Cx(ident, resources.authority_of(system) if system else Hd()))
    elif name == "address-city":
        search.query.city = value
    elif name == "address-postalcode":
        search.query.postal_code = value
    elif name == "address-country":
        search.query.country = value
    elif name == "telecom":
        system, bar, number = value.rpartition("|") if "|" in value else ("phone", "", value)
        if system != "phone" or not number:
            raise SearchError(400, "not-supported", "telecom: only phone numbers (phone|number) are searched", name)
        search.phone = number.translate(_DIALLING)
    elif name == "address":
        search.address = normalise(value)
    elif name == "mothersMaidenName":
        search.query.mother_maiden_name = value
    elif name == "_id":
        if not _ID.match(value):
            raise SearchError(400, "invalid", "_id is not a FHIR id", name)
        search.resource_id = value


def check_breadth(search: Search, limits: core_query.Limits) -> None:
    """The query core's breadth rule as ITI-78 answers it: 400 with the FHIR issue type
    `too-costly` (the search would return too many results to be served). A read by
    `_id` names one record and is never too broad."""
    if search.resource_id:
        return
    try:
        core_query.check_breadth(search.query, limits)
    except core_query.QueryTooBroad as exc:
        raise SearchError(400, "too-costly", str(exc)) from None


def query_tag(query: DemographicsQuery) -> str:
    """The continuation tag of a PDQm search (its canonical form)."""
    return f"fhir:{query.key()[:48]}"
