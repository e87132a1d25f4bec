"""job lifecycle, field reports, media

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

LIVE_JOB = "status NOT IN ('declined', 'cancelled')"


def upgrade() -> None:
    op.create_table('media',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_media'))
    )
    op.create_table('field_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('author_user_id', sa.Integer(), nullable=True),
    sa.Column('operating_hours', sa.Integer(), nullable=True),
    sa.Column('mileage_km', sa.Integer(), nullable=True),
    sa.Column('usage_history', sa.Text(), nullable=True),
    sa.Column('fault_history', sa.Text(), nullable=True),
    sa.Column('within_warranty', sa.Boolean(), nullable=True),
    sa.Column('warranty_reason', sa.Text(), nullable=True),
    sa.Column('disassembled_before', sa.Boolean(), nullable=True),
    sa.Column('root_cause', sa.Text(), nullable=True),
    sa.Column('responsibility', sa.String(length=20), nullable=True),
    sa.Column('work_done', sa.Text(), nullable=True),
    sa.Column('cash_collected', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('cash_receipt_number', sa.String(length=60), nullable=True),
    sa.Column('signer_name', sa.String(length=120), nullable=True),
    sa.Column('signature_kind', sa.String(length=10), nullable=True),
    sa.Column('signature_sha256', sa.String(length=64), nullable=True),
    sa.Column('customer_comments', sa.Text(), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('signed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_device_time', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_latitude', sa.Float(), nullable=True),
    sa.Column('signed_longitude', sa.Float(), nullable=True),
    sa.Column('seal_digest', sa.String(length=64), nullable=True),
    sa.Column('seal_signature', sa.String(length=200), nullable=True),
    sa.Column('seal_key_id', sa.String(length=32), nullable=True),
    sa.Column('submitted_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_outcome', sa.String(length=10), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5', name=op.f('ck_field_reports_satisfaction_1_to_5')),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_field_reports_author_user_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_field_reports_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_user_id'], ['users.id'], name=op.f('fk_field_reports_reviewed_by_user_id_users')),
    sa.ForeignKeyConstraint(['signature_sha256'], ['media.sha256'], name=op.f('fk_field_reports_signature_sha256_media')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_reports'))
    )
    with op.batch_alter_table('field_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_reports_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_reports_submitted_at'), ['submitted_at'], unique=False)
        batch_op.create_index('uq_field_reports_job_version', ['job_id', 'version_no'], unique=True)
        batch_op.create_index('uq_field_reports_one_current', ['job_id'], unique=True, sqlite_where=sa.text("status != 'superseded'"), postgresql_where=sa.text("status != 'superseded'"))

    op.create_table('job_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=False),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('server_time', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('device_time', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('distance_to_site_km', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_job_events_actor_user_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_events_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_events'))
    )
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.create_index('ix_job_events_job_time', ['job_id', 'server_time'], unique=False)

    op.create_table('job_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('media_sha256', sa.String(length=64), nullable=False),
    sa.Column('caption', sa.String(length=300), nullable=True),
    sa.Column('taken_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('uploaded_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_photos_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['media_sha256'], ['media.sha256'], name=op.f('fk_job_photos_media_sha256_media')),
    sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['users.id'], name=op.f('fk_job_photos_uploaded_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_photos'))
    )
    with op.batch_alter_table('job_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_photos_job_id'), ['job_id'], unique=False)

    op.create_table('paid_service_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_user_id', sa.Integer(), nullable=False),
    sa.Column('approved_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('estimated_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['users.id'], name=op.f('fk_paid_service_approvals_approved_by_user_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_paid_service_approvals_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paid_service_approvals')),
    sa.UniqueConstraint('job_id', name=op.f('uq_paid_service_approvals_job_id'))
    )
    op.create_table('report_compensation_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['field_reports.id'], name=op.f('fk_report_compensation_lines_report_id_field_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_compensation_lines'))
    )
    with op.batch_alter_table('report_compensation_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_compensation_lines_report_id'), ['report_id'], unique=False)

    op.create_table('report_part_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('part_number', sa.String(length=60), nullable=False),
    sa.Column('part_name', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('covered_by_warranty', sa.Boolean(), nullable=False),
    sa.Column('new_serial', sa.String(length=80), nullable=True),
    sa.Column('old_serial', sa.String(length=80), nullable=True),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_report_part_lines_positive_quantity')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_report_part_lines_part_id_parts')),
    sa.ForeignKeyConstraint(['report_id'], ['field_reports.id'], name=op.f('fk_report_part_lines_report_id_field_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_part_lines'))
    )
    with op.batch_alter_table('report_part_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_part_lines_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('work_done_at', backend.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_jobs_work_done_at'), ['work_done_at'], unique=False)
        # A declined job no longer holds its request, so the request can be dispatched again.
        batch_op.drop_index('uq_jobs_live_service_request')
        batch_op.create_index('uq_jobs_live_service_request', ['service_request_id'], unique=True, sqlite_where=sa.text(LIVE_JOB), postgresql_where=sa.text(LIVE_JOB))



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_live_service_request')
        batch_op.create_index('uq_jobs_live_service_request', ['service_request_id'], unique=True, sqlite_where=sa.text("status != 'cancelled'"), postgresql_where=sa.text("status != 'cancelled'"))
        batch_op.drop_index(batch_op.f('ix_jobs_work_done_at'))
        batch_op.drop_column('work_done_at')

    with op.batch_alter_table('report_part_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_part_lines_report_id'))

    op.drop_table('report_part_lines')
    with op.batch_alter_table('report_compensation_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_compensation_lines_report_id'))

    op.drop_table('report_compensation_lines')
    op.drop_table('paid_service_approvals')
    with op.batch_alter_table('job_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_photos_job_id'))

    op.drop_table('job_photos')
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.drop_index('ix_job_events_job_time')

    op.drop_table('job_events')
    with op.batch_alter_table('field_reports', schema=None) as batch_op:
        batch_op.drop_index('uq_field_reports_one_current', sqlite_where=sa.text("status != 'superseded'"), postgresql_where=sa.text("status != 'superseded'"))
        batch_op.drop_index('uq_field_reports_job_version')
        batch_op.drop_index(batch_op.f('ix_field_reports_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_field_reports_job_id'))

    op.drop_table('field_reports')
    op.drop_table('media')
