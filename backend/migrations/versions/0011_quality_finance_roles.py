"""roles quality (investigation and responsibility) and finance (cost allocation)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_BEFORE = ('technician', 'dispatcher', 'supervisor', 'warehouse', 'agent', 'manager', 'admin')
_AFTER = (*_BEFORE, 'quality', 'finance')


def _known_roles(roles: tuple[str, ...]) -> None:
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_user_roles_known_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_user_roles_known_role'),
                                         f"role IN ({', '.join(repr(r) for r in roles)})")


def upgrade() -> None:
    _known_roles(_AFTER)


def downgrade() -> None:
    op.execute(f"DELETE FROM user_roles WHERE role IN ('quality', 'finance')")
    _known_roles(_BEFORE)
