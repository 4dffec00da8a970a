"""An inquiry's admin list row as data: the live INQUIRY record, and what the row's
template reads from it.

The list page and the live list render a row from the same record (``record``,
then ``shown``), so a row that came live is the row a reload shows. A service
builds the record after its change, from the inquiry it holds: a stream then
renders it without any query.
"""

import time
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa

from ..extensions import db
from ..live import records
from ..models import Product, ProductInquiry, ProductMessage

# The row shows a message's first 90 characters (Jinja's ``truncate`` keeps up to 95 as
# they are): the record carries no more, however long the message.
TEXT_KEPT = 100

NOT_READ = object()


def last_text(inquiry_id):
    """The inquiry's newest text message (either side), with its files; None if none."""
    return db.session.scalar(
        sa.select(ProductMessage)
        .where(ProductMessage.inquiry_id == inquiry_id, ProductMessage.message_type == "text")
        .order_by(ProductMessage.id.desc())
        .limit(1)
        .options(sa.orm.selectinload(ProductMessage.attachments))
    )


# What a row shows of an inquiry besides its own columns.
LOADS = (
    sa.orm.joinedload(ProductInquiry.product).joinedload(Product.site),
    sa.orm.joinedload(ProductInquiry.assigned_admin),
)


def recount_unread(inquiry_id):
    """After the admins read the customer's messages: the inquiry's unread count, counted
    again in the same UPDATE (an admin's action, not each message). A count, not a
    decrement by the rows marked: two reads that race, or a read and a send, leave it
    exact on MariaDB too (the UPDATE waits for a sender's row lock, then its subquery
    reads what is committed), however the marking query is written."""
    unread = (
        sa.select(sa.func.count(ProductMessage.id))
        .where(
            ProductMessage.inquiry_id == inquiry_id,
            ProductMessage.sender_type == "customer",
            ProductMessage.is_read.is_(False),
        )
        .scalar_subquery()
    )
    db.session.execute(
        sa.update(ProductInquiry)
        .where(ProductInquiry.id == inquiry_id)
        .values(unread_count=unread)
        .execution_options(synchronize_session=False)
    )


def fresh(inquiry_id):
    """The inquiry as committed now (or None), with what its row shows."""
    query = sa.select(ProductInquiry).where(ProductInquiry.id == inquiry_id).options(*LOADS)
    return db.session.scalars(query.execution_options(populate_existing=True)).unique().first()


def record(inquiry, why, last=NOT_READ, message=None):
    """The row of ``inquiry`` (as it is in this transaction) as an INQUIRY record; ``last``:
    its newest text message if the caller has it (None: it has none), else it is read.
    ``message``: the message that moved the row (a stream delivers a customer's)."""
    if last is NOT_READ:
        last = last_text(inquiry.id)
    product, assignee = inquiry.product, inquiry.assigned_admin
    return records.InquiryChanged(
        inquiry.id,
        inquiry.product_id,
        why,
        status=inquiry.status,
        priority=inquiry.priority,
        queue_key=inquiry.queue_key,
        waiting_since=inquiry.waiting_since.isoformat() if inquiry.waiting_since else None,
        assigned_admin_id=inquiry.assigned_admin_id,
        assignee_name=assignee.name if assignee is not None else None,
        rating=inquiry.rating,
        rating_comment=inquiry.rating_comment,
        product_name=product.name,
        product_image_url=product.image_url,
        site_id=product.site_id,
        site_name=product.site.name,
        customer_email=inquiry.customer_email,
        session_prefix=inquiry.session_id[:6],
        message_count=inquiry.message_count,
        unread_count=inquiry.unread_count,
        last_sender=last.sender_type if last is not None else None,
        last_text=last.message_text[:TEXT_KEPT] if last is not None and last.message_text is not None else None,
        last_files=tuple((a.filename, a.is_image) for a in last.attachments) if last is not None else (),
        message_id=message.id if message is not None else None,
        sender_type=message.sender_type if message is not None else None,
        built_ns=time.time_ns(),
    )


def shown(record):
    """What ``admin/_row.html`` reads, from an INQUIRY record."""
    product = SimpleNamespace(
        id=record.product_id,
        name=record.product_name,
        image_url=record.product_image_url,
        site=SimpleNamespace(id=record.site_id, name=record.site_name),
    )
    # The drawn placeholder's initials and colour, as the product's own page draws them.
    product.initials, product.hue = Product.initials.fget(product), Product.hue.fget(product)
    inquiry = SimpleNamespace(
        id=record.inquiry_id,
        status=record.status,
        priority=record.priority,
        queue_key=record.queue_key,
        waiting_since=datetime.fromisoformat(record.waiting_since) if record.waiting_since else None,
        assigned_admin=SimpleNamespace(id=record.assigned_admin_id, name=record.assignee_name)
        if record.assigned_admin_id is not None
        else None,
        rating=record.rating,
        rating_comment=record.rating_comment,
        product=product,
        customer_email=record.customer_email,
        session_id=record.session_prefix,
    )
    last = None
    if record.last_sender is not None:
        last = SimpleNamespace(
            sender_type=record.last_sender,
            message_text=record.last_text,
            attachments=[SimpleNamespace(filename=name, is_image=image) for name, image in record.last_files],
        )
    return SimpleNamespace(
        inquiry=inquiry, message_count=record.message_count, unread_count=record.unread_count, last_message=last
    )
