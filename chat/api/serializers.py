"""The seed's Pydantic models, as plain dicts."""


def iso(value):
    return value.isoformat() + "Z" if value is not None else None


def message_dict(message, viewer="admin"):
    """A message as JSON. Customers get the shop's public name for answers, never an
    admin's account or id; admins also see the visibility of internal notes."""
    data = {
        "id": message.id,
        "inquiry_id": message.inquiry_id,
        "sender_type": message.sender_type,
        "sender_id": message.sender_id if viewer == "admin" else None,
        "sender_name": (
            message.public_sender_name if viewer == "customer" else message.sender.name if message.sender else None
        ),
        "message_text": message.message_text,
        "message_type": message.message_type,
        "is_read": bool(message.is_read),
        "created_at": iso(message.created_at),
        "client_message_id": message.client_msg_id,
        "status": message.state,
        "delivered_at": iso(message.delivered_at),
        "read_at": iso(message.read_at),
        "attachments": [attachment_dict(a, viewer) for a in message.attachments],
    }
    if viewer == "admin":
        data["visibility"] = message.visibility
    return data


def attachment_dict(attachment, viewer):
    """A file sent with a message, with signed URLs for ``viewer`` (short-lived: fetch them soon)."""
    from ..services import attachment_links, attachments

    link = attachment_links.link(attachment, viewer, absolute=True)
    return {**attachments.describe(attachment), "url": link.url, "thumbnail_url": link.thumbnail_url}


def inquiry_dict(inquiry, message_count, unread_count):
    return {
        "id": inquiry.id,
        "product_id": inquiry.product_id,
        "session_id": None,  # never echoed: the signed token is the caller's own
        "customer_email": inquiry.customer_email,
        "status": inquiry.status,
        "priority": inquiry.priority,
        "created_at": iso(inquiry.created_at),
        "updated_at": iso(inquiry.updated_at),
        "assigned_admin_id": inquiry.assigned_admin_id,
        "product_name": inquiry.product.name if inquiry.product else None,
        "message_count": message_count,
        "unread_count": unread_count,
    }


def product_dict(product):
    """A catalog product as the sync API shows it (``id`` is ours, ``external_id`` the shop's)."""
    return {
        "id": product.id,
        "external_id": product.external_id,
        "site": product.site.public_id,
        "name": product.name,
        "description": product.description,
        "price": f"{product.price:.2f}" if product.price is not None else None,
        "currency": product.currency,
        "image_url": product.image_url,
        "page_url": product.page_url,
        "stock": product.stock,
        "synced_at": iso(product.synced_at),
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
    }
