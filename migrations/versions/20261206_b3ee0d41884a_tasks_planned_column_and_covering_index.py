"""issue 19: tasks.planned (the item is on its day's plan) and the index Today reads its
counts from without opening a row: the plan had been worked out of each item's JSON detail on
every view of Today

Revision ID: b3ee0d41884a
Revises: 507c962407a3
Create Date: 2026-12-06 03:57:02.590098

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3ee0d41884a'
down_revision = '507c962407a3'
branch_labels = None
depends_on = None

# kq.models.contact.DAILY_KINDS as of this revision: the kinds planned or not by the day's run
DAILY_KINDS = ('red_flag', 'relationship_touch')


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
    # Every kind due that day is on the plan (the default); a daily kind when its run said so.
    tasks = sa.table('tasks', sa.column('kind', sa.String), sa.column('detail', sa.JSON),
                     sa.column('planned', sa.Boolean))
    op.execute(tasks.update().where(tasks.c.kind.in_(DAILY_KINDS)).values(
        planned=sa.func.coalesce(tasks.c.detail['plan'].as_boolean(), sa.false())))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_store_staff_due')
        batch_op.create_index('ix_tasks_store_staff_due_plan',
                              ['store_id', 'staff_id', 'due_on', 'planned', 'status', 'kind'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_store_staff_due_plan')
        batch_op.create_index('ix_tasks_store_staff_due', ['store_id', 'staff_id', 'due_on'],
                              unique=False)
        batch_op.drop_column('planned')
