"""stock: locations, ledger, balances, serials, receiving notes, transfers; parts get a supplier

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:10:00.000000
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stock_locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'station') = (station_id IS NOT NULL) AND (kind = 'van') = (technician_id IS NOT NULL)", name=op.f('ck_stock_locations_owner_matches_kind')),
    sa.CheckConstraint("kind IN ('store', 'station', 'van', 'transit')", name=op.f('ck_stock_locations_known_kind')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_stock_locations_station_id_stations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technician_id'], ['technicians.id'], name=op.f('fk_stock_locations_technician_id_technicians'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_locations')),
    sa.UniqueConstraint('code', name=op.f('uq_stock_locations_code')),
    sa.UniqueConstraint('station_id', name=op.f('uq_stock_locations_station_id')),
    sa.UniqueConstraint('technician_id', name=op.f('uq_stock_locations_technician_id'))
    )
    with op.batch_alter_table('stock_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_locations_kind'), ['kind'], unique=False)

    op.create_table('stock_balances',
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_stock_balances_on_hand_not_negative')),
    sa.CheckConstraint('reserved >= 0 AND reserved <= on_hand', name=op.f('ck_stock_balances_reserved_within_on_hand')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_stock_balances_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_stock_balances_part_id_parts')),
    sa.PrimaryKeyConstraint('location_id', 'part_id', name=op.f('pk_stock_balances'))
    )
    with op.batch_alter_table('stock_balances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_balances_part_id'), ['part_id'], unique=False)

    op.create_table('stock_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=True),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('document_type', sa.String(length=30), nullable=False),
    sa.Column('document_ref', sa.String(length=60), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('quantity <> 0', name=op.f('ck_stock_ledger_moves_something')),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_stock_ledger_actor_user_id_users')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_stock_ledger_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_stock_ledger_part_id_parts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_ledger'))
    )
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_ledger_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_ledger_document_ref'), ['document_ref'], unique=False)
        batch_op.create_index('ix_stock_ledger_location_part', ['location_id', 'part_id'], unique=False)
        batch_op.create_index('ix_stock_ledger_part_serial', ['part_id', 'serial'], unique=False)

    op.create_table('stock_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('supplier_reference', sa.String(length=100), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('received_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_stock_receipts_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['received_by_user_id'], ['users.id'], name=op.f('fk_stock_receipts_received_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_receipts'))
    )
    with op.batch_alter_table('stock_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_receipts_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_receipts_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_receipts_supplier'), ['supplier'], unique=False)

    op.create_table('stock_serials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_stock_serials_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_stock_serials_part_id_parts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_serials')),
    sa.UniqueConstraint('part_id', 'serial', name='uq_stock_serials_part_serial')
    )
    with op.batch_alter_table('stock_serials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_serials_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_serials_serial'), ['serial'], unique=False)

    op.create_table('stock_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('source_location_id', sa.Integer(), nullable=False),
    sa.Column('destination_location_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('sent_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_by_user_id', sa.Integer(), nullable=True),
    sa.Column('received_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_by_user_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_user_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=300), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cancelled_by_user_id'], ['users.id'], name=op.f('fk_stock_transfers_cancelled_by_user_id_users')),
    sa.ForeignKeyConstraint(['destination_location_id'], ['stock_locations.id'], name=op.f('fk_stock_transfers_destination_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['received_by_user_id'], ['users.id'], name=op.f('fk_stock_transfers_received_by_user_id_users')),
    sa.ForeignKeyConstraint(['sent_by_user_id'], ['users.id'], name=op.f('fk_stock_transfers_sent_by_user_id_users')),
    sa.ForeignKeyConstraint(['source_location_id'], ['stock_locations.id'], name=op.f('fk_stock_transfers_source_location_id_stock_locations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_transfers'))
    )
    with op.batch_alter_table('stock_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_transfers_destination_location_id'), ['destination_location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_transfers_source_location_id'), ['source_location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_transfers_status'), ['status'], unique=False)

    op.create_table('stock_receipt_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('serials', sa.JSON(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_stock_receipt_lines_positive_quantity')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_stock_receipt_lines_part_id_parts')),
    sa.ForeignKeyConstraint(['receipt_id'], ['stock_receipts.id'], name=op.f('fk_stock_receipt_lines_receipt_id_stock_receipts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_receipt_lines'))
    )
    with op.batch_alter_table('stock_receipt_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_receipt_lines_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_receipt_lines_receipt_id'), ['receipt_id'], unique=False)

    op.create_table('stock_transfer_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('serials', sa.JSON(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_stock_transfer_lines_positive_quantity')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_stock_transfer_lines_part_id_parts')),
    sa.ForeignKeyConstraint(['transfer_id'], ['stock_transfers.id'], name=op.f('fk_stock_transfer_lines_transfer_id_stock_transfers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_transfer_lines'))
    )
    with op.batch_alter_table('stock_transfer_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_transfer_lines_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_transfer_lines_transfer_id'), ['transfer_id'], unique=False)

    with op.batch_alter_table('parts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supplier', sa.String(length=200), nullable=True))

    _create_locations()


def _create_locations() -> None:
    """Rule PRT-1: the central store, in transit, each station's own stock and each technician's van. From now on
    the application creates a station's or technician's location with it (backend.parts.models); the codes here
    are the ones it uses."""
    now = sa.bindparam("now", datetime.now(UTC), type_=backend.db.UTCDateTime())
    columns = "code, kind, station_id, technician_id, created_at"
    for statement in (
        f"INSERT INTO stock_locations ({columns}) VALUES ('STORE', 'store', NULL, NULL, :now)",
        f"INSERT INTO stock_locations ({columns}) VALUES ('TRANSIT', 'transit', NULL, NULL, :now)",
        f"INSERT INTO stock_locations ({columns}) SELECT 'STN-' || id, 'station', id, NULL, :now FROM stations",
        f"INSERT INTO stock_locations ({columns}) SELECT 'VAN-' || id, 'van', NULL, id, :now FROM technicians",
    ):
        op.execute(sa.text(statement).bindparams(now))


def downgrade() -> None:
    with op.batch_alter_table('parts', schema=None) as batch_op:
        batch_op.drop_column('supplier')

    with op.batch_alter_table('stock_transfer_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_transfer_lines_transfer_id'))
        batch_op.drop_index(batch_op.f('ix_stock_transfer_lines_part_id'))

    op.drop_table('stock_transfer_lines')
    with op.batch_alter_table('stock_receipt_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_receipt_lines_receipt_id'))
        batch_op.drop_index(batch_op.f('ix_stock_receipt_lines_part_id'))

    op.drop_table('stock_receipt_lines')
    with op.batch_alter_table('stock_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_transfers_status'))
        batch_op.drop_index(batch_op.f('ix_stock_transfers_source_location_id'))
        batch_op.drop_index(batch_op.f('ix_stock_transfers_destination_location_id'))

    op.drop_table('stock_transfers')
    with op.batch_alter_table('stock_serials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_serials_serial'))
        batch_op.drop_index(batch_op.f('ix_stock_serials_location_id'))

    op.drop_table('stock_serials')
    with op.batch_alter_table('stock_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_receipts_supplier'))
        batch_op.drop_index(batch_op.f('ix_stock_receipts_received_at'))
        batch_op.drop_index(batch_op.f('ix_stock_receipts_location_id'))

    op.drop_table('stock_receipts')
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_ledger_part_serial')
        batch_op.drop_index('ix_stock_ledger_location_part')
        batch_op.drop_index(batch_op.f('ix_stock_ledger_document_ref'))
        batch_op.drop_index(batch_op.f('ix_stock_ledger_at'))

    op.drop_table('stock_ledger')
    with op.batch_alter_table('stock_balances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_balances_part_id'))

    op.drop_table('stock_balances')
    with op.batch_alter_table('stock_locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_locations_kind'))

    op.drop_table('stock_locations')
