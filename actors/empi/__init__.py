"""EMPI matching: decide whether an identity from a new domain is a known patient.

Sans-IO. The identity core stores `blocking_keys(traits)` of every patient in an indexed
column, fetches the patients sharing a key with an incoming record, and asks
`Matcher.compare` (or `Matcher.rank`) for a `MatchResult`: "link" automatically,
"review" (the identity-review queue) or "new" patient.
"""
from actors.empi.blocking import blocking_keys
from actors.empi.matcher import (
    Decision,
    Matcher,
    MatchResult,
    Thresholds,
    TraitComparison,
    Weights,
)
from actors.empi.phonetic import phonetic_fr
from actors.empi.traits import PartialDate, Traits, ins_key_valid

__all__ = [
    "Decision",
    "MatchResult",
    "Matcher",
    "PartialDate",
    "Thresholds",
    "TraitComparison",
    "Traits",
    "Weights",
    "blocking_keys",
    "ins_key_valid",
    "phonetic_fr",
]
