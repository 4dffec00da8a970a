from flask import render_template

from .. import identity
from ..extensions import db
from ..models import Product
from ..services import conversations
from . import bp


@bp.get("/")
def product_list():
    products = db.session.scalars(db.select(Product).order_by(Product.id)).all()
    return render_template("storefront/product_list.html", products=products)


@bp.get("/products/<id:product_id>")
def product_detail(product_id):
    product = db.get_or_404(Product, product_id)
    inquiry = identity.own_inquiry(product_id)
    unread = conversations.unread_count(inquiry.id if inquiry else None, reader="customer")
    # With a conversation, the widget opens its (hidden) panel and stream at
    # once, so the badge counts answers live.
    return render_template("storefront/product_detail.html", product=product, unread=unread,
                           has_conversation=inquiry is not None)
