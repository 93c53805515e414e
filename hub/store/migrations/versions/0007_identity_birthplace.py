"""identity: the birthplace's city, postal code and country (PID-11 XAD-7 = BDL)

Revision ID: 0007_identity_birthplace
Revises: 0004_identity
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_identity_birthplace"
down_revision = "0004_identity"
branch_labels = None
depends_on = None

COLUMNS = (("birthplace_city", 128), ("birthplace_postal_code", 16), ("birthplace_country", 8))


def upgrade() -> None:
    # Existing rows get "" (what a feed without them stores); new rows get the model's default.
    with op.batch_alter_table("identity_patient") as batch:
        for name, length in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=""))
    with op.batch_alter_table("identity_patient") as batch:
        for name, _length in COLUMNS:
            batch.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("identity_patient") as batch:
        for name, _length in COLUMNS:
            batch.drop_column(name)
