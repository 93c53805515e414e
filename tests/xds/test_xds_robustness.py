"""Damaged metadata never breaks the registry: whatever is removed from or changed in a
valid submission, ITI-41 answers with XDS errors (or succeeds) and stores nothing when
it fails."""
from __future__ import annotations

import copy
import random

import pytest
from lxml import etree
from xds_support import PATIENT, counts, iti41, seed_patients

from actors.xds import constants as c
from actors.xds.query import QUERIES, QuerySettings, run
from conformance.xds_client import adhoc_query
from conformance.xds_metadata import (
    AssociationSpec,
    DocumentSpec,
    FolderSpec,
    submit_objects_request,
)

ATTRIBUTES = ("id", "classificationScheme", "classifiedObject", "nodeRepresentation", "identificationScheme",
              "registryObject", "value", "objectType", "mimeType", "associationType", "sourceObject", "targetObject", "name")
NASTY = ("", " ", "urn:uuid:", "^^^", "&&", "'", "\u00e9\u00e8", "x" * 300, "urn:uuid:00000000-0000-0000-0000-000000000000")


def _mutate(request: etree._Element, rng: random.Random) -> etree._Element:
    mutated = copy.deepcopy(request)
    elements = list(mutated.iter())[2:]
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(elements)
        action = rng.random()
        if action < 0.4 and target.getparent() is not None:
            target.getparent().remove(target)
            elements = list(mutated.iter())[2:]
        elif action < 0.8:
            present = [a for a in ATTRIBUTES if a in target.attrib]
            if present:
                attribute = rng.choice(present)
                if rng.random() < 0.5:
                    del target.attrib[attribute]
                else:
                    target.set(attribute, rng.choice(NASTY))
        else:
            target.text = rng.choice(NASTY)
    return mutated


@pytest.mark.parametrize("seed", range(8))
def test_damaged_submissions_get_xds_errors_and_leave_no_trace(store, seed):
    seed_patients(store, PATIENT)
    rng = random.Random(seed)
    for _ in range(25):
        documents = [DocumentSpec(content=b"a"), DocumentSpec(content=b"b")]
        original = submit_objects_request(
            PATIENT, documents=documents, folders=[FolderSpec(members=["Document01"])],
            associations=[AssociationSpec(c.APND, "Document02", "Document01")],
        )
        before = counts(store)
        errors = iti41(store, _mutate(original, rng), documents)
        if errors:
            assert counts(store) == before
            assert all(code.startswith("XDS") or code == c.UnresolvedReferenceException for code, _ in errors)


VALUES = ("'x'", "('a','b')", "(", "'", "''", "('a'", "20240101", "2024-01-01", "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')",
          f"'{PATIENT}'", "('A^^1.2.3')", "('%DUPONT%')", "", "x" * 300)


@pytest.mark.parametrize("query_id", sorted(QUERIES))
def test_any_parameter_values_get_an_adhoc_query_response(store, query_id):
    """Every stored query answers random parameter values with a response, never a crash."""
    rng = random.Random(query_id)
    names = [p.name for p in QUERIES[query_id].params] + ["$Unknown"]
    with store.session() as session:
        for _ in range(40):
            params = {name: rng.choice(VALUES) for name in rng.sample(names, rng.randint(0, len(names)))}
            response = run(session, adhoc_query(query_id, params, rng.choice(["LeafClass", "ObjectRef", "Other"])), QuerySettings(), lambda p: None)
            status = response.response.get("status")
            assert status in (c.RESPONSE_SUCCESS, c.RESPONSE_FAILURE)
