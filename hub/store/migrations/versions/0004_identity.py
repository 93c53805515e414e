"""identity: domains, persons, patients, identifiers, blocking keys, history, EMPI candidates, events, PIX notifications,
PDQ continuations, encounters and movements

Revision ID: 0004_identity
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

import hub.store.base

revision = "0004_identity"
down_revision = "0001_core"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table('identity_domain',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace', sa.String(length=128), nullable=False),
    sa.Column('universal_id', sa.String(length=128), nullable=False),
    sa.Column('universal_id_type', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_domain')),
    sa.UniqueConstraint('namespace', 'universal_id', name='uq_identity_domain_namespace')
    )
    op.create_index('ix_identity_domain_namespace', 'identity_domain', ['namespace'], unique=False)
    op.create_index('ix_identity_domain_universal_id', 'identity_domain', ['universal_id'], unique=False)
    op.create_table('identity_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', hub.store.base.UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_event'))
    )
    op.create_index('ix_identity_event_kind', 'identity_event', ['kind'], unique=False)
    op.create_table('identity_notification',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('consumer', sa.String(length=256), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.Column('sent_at', hub.store.base.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_notification'))
    )
    op.create_index('ix_identity_notification_sent_at', 'identity_notification', ['sent_at'], unique=False)
    op.create_table('identity_pdq_continuation',
    sa.Column('pointer', sa.String(length=64), nullable=False),
    sa.Column('query_tag', sa.String(length=199), nullable=False),
    sa.Column('requester', sa.String(length=256), nullable=False),
    sa.Column('query_key', sa.Text(), nullable=False),
    sa.Column('after_person_id', sa.Integer(), nullable=False),
    sa.Column('created_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('pointer', name=op.f('pk_identity_pdq_continuation'))
    )
    op.create_index('ix_identity_pdq_continuation_tag', 'identity_pdq_continuation', ['query_tag'], unique=False)
    op.create_table('identity_person',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_person'))
    )
    op.create_table('identity_patient',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('reliability_codes', sa.String(length=128), nullable=False),
    sa.Column('family_name', sa.String(length=128), nullable=False),
    sa.Column('family_norm', sa.String(length=128), nullable=False),
    sa.Column('given_name', sa.String(length=128), nullable=False),
    sa.Column('given_names', sa.String(length=256), nullable=False),
    sa.Column('given_norm', sa.String(length=128), nullable=False),
    sa.Column('used_family_name', sa.String(length=128), nullable=False),
    sa.Column('used_family_norm', sa.String(length=128), nullable=False),
    sa.Column('used_given_name', sa.String(length=128), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('birth_date', sa.String(length=8), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birthplace_code', sa.String(length=8), nullable=False),
    sa.Column('street', sa.String(length=256), nullable=False),
    sa.Column('city', sa.String(length=128), nullable=False),
    sa.Column('city_norm', sa.String(length=128), nullable=False),
    sa.Column('postal_code', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=False),
    sa.Column('phone', sa.String(length=64), nullable=False),
    sa.Column('mother_maiden_name', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['identity_patient.id'], name=op.f('fk_identity_patient_merged_into_id_identity_patient')),
    sa.ForeignKeyConstraint(['person_id'], ['identity_person.id'], name=op.f('fk_identity_patient_person_id_identity_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_patient'))
    )
    op.create_index('ix_identity_patient_birth_date', 'identity_patient', ['birth_date'], unique=False)
    op.create_index('ix_identity_patient_family_birth', 'identity_patient', ['family_norm', 'birth_date'], unique=False)
    op.create_index('ix_identity_patient_person', 'identity_patient', ['person_id'], unique=False)
    op.create_index('ix_identity_patient_used_family_birth', 'identity_patient', ['used_family_norm', 'birth_date'], unique=False)
    op.create_table('identity_encounter',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_domain', sa.String(length=128), nullable=False),
    sa.Column('visit_number', sa.String(length=64), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('patient_class', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('location', sa.String(length=128), nullable=False),
    sa.Column('admitted_at', hub.store.base.UTCDateTime(), nullable=True),
    sa.Column('discharged_at', hub.store.base.UTCDateTime(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('updated_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_patient.id'], name=op.f('fk_identity_encounter_patient_id_identity_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_encounter')),
    sa.UniqueConstraint('visit_domain', 'visit_number', name='uq_identity_encounter_visit_domain')
    )
    op.create_index('ix_identity_encounter_patient', 'identity_encounter', ['patient_id'], unique=False)
    op.create_table('identity_blocking_key',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_patient.id'], name=op.f('fk_identity_blocking_key_patient_id_identity_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_blocking_key'))
    )
    op.create_index('ix_identity_blocking_key_key', 'identity_blocking_key', ['key'], unique=False)
    op.create_index('ix_identity_blocking_key_patient', 'identity_blocking_key', ['patient_id'], unique=False)
    op.create_table('identity_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', hub.store.base.UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('other_patient_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=199), nullable=False),
    sa.ForeignKeyConstraint(['other_patient_id'], ['identity_patient.id'], name=op.f('fk_identity_history_other_patient_id_identity_patient')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_patient.id'], name=op.f('fk_identity_history_patient_id_identity_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_history'))
    )
    op.create_index('ix_identity_history_patient', 'identity_history', ['patient_id'], unique=False)
    op.create_table('identity_identifier',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('type_code', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domain.id'], name=op.f('fk_identity_identifier_domain_id_identity_domain')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_patient.id'], name=op.f('fk_identity_identifier_patient_id_identity_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_identifier')),
    sa.UniqueConstraint('domain_id', 'value', name='uq_identity_identifier_domain')
    )
    op.create_index('ix_identity_identifier_patient', 'identity_identifier', ['patient_id'], unique=False)
    op.create_table('identity_match_candidate',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('candidate_person_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_person_id'], ['identity_person.id'], name=op.f('fk_identity_match_candidate_candidate_person_id_identity_person')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_patient.id'], name=op.f('fk_identity_match_candidate_patient_id_identity_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_match_candidate'))
    )
    op.create_index('ix_identity_match_candidate_status', 'identity_match_candidate', ['status'], unique=False)
    op.create_table('identity_movement',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('movement_domain', sa.String(length=128), nullable=False),
    sa.Column('movement_id', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=8), nullable=False),
    sa.Column('started_at', hub.store.base.UTCDateTime(), nullable=False),
    sa.Column('historic', sa.Boolean(), nullable=False),
    sa.Column('medical_unit', sa.String(length=128), nullable=False),
    sa.Column('care_unit', sa.String(length=128), nullable=False),
    sa.Column('nature', sa.String(length=8), nullable=False),
    sa.Column('location', sa.String(length=128), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['identity_encounter.id'], name=op.f('fk_identity_movement_encounter_id_identity_encounter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_movement')),
    sa.UniqueConstraint('movement_domain', 'movement_id', name='uq_identity_movement_movement_domain')
    )
    op.create_index('ix_identity_movement_encounter', 'identity_movement', ['encounter_id'], unique=False)


def downgrade() -> None:
    op.drop_table("identity_movement")
    op.drop_table("identity_match_candidate")
    op.drop_table("identity_identifier")
    op.drop_table("identity_history")
    op.drop_table("identity_blocking_key")
    op.drop_table("identity_encounter")
    op.drop_table("identity_patient")
    op.drop_table("identity_person")
    op.drop_table("identity_pdq_continuation")
    op.drop_table("identity_notification")
    op.drop_table("identity_event")
    op.drop_table("identity_domain")
