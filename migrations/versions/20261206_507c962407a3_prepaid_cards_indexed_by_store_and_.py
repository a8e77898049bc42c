"""issue 19: prepaid cards indexed by store and status (the checklist's read of a store's open
cards scanned every store's cards at chain size)

Revision ID: 507c962407a3
Revises: e579fe2b7467
Create Date: 2026-12-06 01:48:27.805448

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '507c962407a3'
down_revision = 'e579fe2b7467'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('prepaid_cards', schema=None) as batch_op:
        batch_op.create_index('ix_prepaid_cards_store_status', ['store_id', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('prepaid_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_prepaid_cards_store_status')
