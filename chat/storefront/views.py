from flask import abort, redirect, render_template, url_for

from ..extensions import db
from ..models import Product
from ..services import sites
from . import bp


@bp.get("/")
def product_list():
    """The demo shop's products."""
    site = sites.demo_site()
    products = db.session.scalars(db.select(Product).filter_by(site_id=site.id).order_by(Product.id)).all()
    return render_template("storefront/product_list.html", products=products)


def demo_product_or_404(product_id):
    """A product of the demo shop; another site's product is not on our shop's pages (404)."""
    product = db.session.get(Product, product_id)
    if product is None or product.site_id != sites.demo_site().id:
        abort(404)
    return product


@bp.get("/products/<id:product_id>")
def product_detail(product_id):
    """A product page of the demo shop, with the same one-tag widget every shop embeds."""
    return render_template("storefront/product_detail.html", product=demo_product_or_404(product_id))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on pages that name no icon (the chat page opened on its own)."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
