"""Small helpers the chat tests share."""
import re
import uuid

import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, ProductInquiry, ProductMessage


def first_product_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(Product.id).order_by(Product.id))


def csrf_token(client, product_id):
    page = client.get(f"/products/{product_id}").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def htmx_headers(token):
    return {"HX-Request": "true", "X-CSRFToken": token}


def send_html(client, product_id, text, token, client_id=None):
    return client.post(
        f"/products/{product_id}/chat/messages",
        data={"message_text": text, "client_message_id": client_id or str(uuid.uuid4())},
        headers=htmx_headers(token),
    )


def count(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def messages_of(app):
    with app.app_context():
        return [m.message_text for m in db.session.scalars(sa.select(ProductMessage).order_by(ProductMessage.id))]


def only_inquiry_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(ProductInquiry.id))


__all__ = ["ProductInquiry", "ProductMessage"]
