"""Small helpers the chat tests share."""
import re
import uuid

import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, ProductInquiry, ProductMessage


def first_product_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(Product.id).order_by(Product.id))


def make_product(**fields):
    """A product of the demo site (call inside an app context)."""
    from chat.services import sites

    site = sites.demo_site()
    product = Product(site_id=site.id, external_id=fields.pop("external_id", uuid.uuid4().hex[:12]), **fields)
    db.session.add(product)
    db.session.commit()
    return product


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


BO_EMAIL, BO_PASSWORD = "bo@shop.example", "bo-password-1"


def login_form_token(client):
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def admin_login(client, email, password, remember=False):
    """Log in through the real form (with its CSRF token); returns the token for later posts."""
    token = login_form_token(client)
    form = {"email": email, "password": password, "csrf_token": token}
    if remember:
        form["remember"] = "1"
    response = client.post("/admin/login", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def make_inquiry(app, product_id, text, session=None):
    """A customer's inquiry made through the service layer; returns its id."""
    from chat.services import conversations

    with app.app_context():
        result = conversations.send_customer_message(product_id, session or uuid.uuid4().hex, text)
        return result.message.inquiry_id
