"""Two submissions racing for one document uniqueId (or two updates of one entry) pass the
registry's checks before either commits; the unique indexes stop the second, and its
answer is the XDS error of the conflict, not a bare store failure."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from actors.xds import constants as c
from actors.xds.service import _store_error
from hub.store import Store
from hub.store.models.xds import XdsDocumentEntry


def _entry(uuid: str, lid: str, unique_id: str, version: int = 1) -> XdsDocumentEntry:
    return XdsDocumentEntry(
        uuid=uuid, lid=lid, version=version, unique_id=unique_id, patient_id="p^^^&1.2&ISO", status=c.STATUS_APPROVED,
        object_type=c.DOCUMENT_ENTRY_STABLE, class_code="a", type_code="a", format_code="a",
        healthcare_facility_type_code="a", practice_setting_code="a", mime_type="text/plain", xml="<x/>",
    )


def _conflict(store: Store, first: XdsDocumentEntry, second: XdsDocumentEntry) -> IntegrityError:
    with store.transaction() as session:
        session.add(first)
    with pytest.raises(IntegrityError) as caught:
        with store.transaction() as session:
            session.add(second)
    return caught.value


def test_a_second_entry_with_the_same_unique_id_is_a_duplicate(store: Store) -> None:
    error = _conflict(store, _entry("urn:uuid:1", "urn:uuid:1", "1.2.3"), _entry("urn:uuid:2", "urn:uuid:2", "1.2.3"))
    assert [e.code for e in _store_error(c.XDSRegistryError, "ITI-42", error)] == [c.XDSDuplicateUniqueIdInRegistry]


def test_two_updates_to_the_same_version_conflict(store: Store) -> None:
    error = _conflict(
        store, _entry("urn:uuid:1", "urn:uuid:9", "1.2.3", 2), _entry("urn:uuid:2", "urn:uuid:9", "1.2.4", 2)
    )
    assert [e.code for e in _store_error(c.XDSRegistryError, "ITI-57", error)] == [c.XDSMetadataVersionError]


def test_versions_of_one_entry_share_their_unique_id(store: Store) -> None:
    with store.transaction() as session:
        session.add(_entry("urn:uuid:1", "urn:uuid:9", "1.2.3", 1))
        session.add(_entry("urn:uuid:2", "urn:uuid:9", "1.2.3", 2))
