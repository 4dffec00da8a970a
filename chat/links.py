"""Absolute links for emails, built with url_for against PUBLIC_BASE_URL.

Mails are written in requests (an urgent question) and in the worker (the
periodic scan); both must link to the public address, not to whatever host
the request came in on.
"""

from urllib.parse import urlsplit

from flask import current_app, url_for


def external(endpoint, **values):
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def own_origin():
    """Our own origin (``scheme://host[:port]``, lower-cased), from PUBLIC_BASE_URL."""
    parts = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    return f"{parts.scheme}://{parts.netloc}".lower()


def product_page(product, in_email=False):
    """Where shoppers see the product: the shop's page (synced or seen by the widget);
    for the demo shop, our own product page; None while unknown."""
    if product.page_url:
        return product.page_url.split("#", 1)[0]
    if product.site.public_id == "demo":
        if in_email:
            return external("storefront.product_detail", product_id=product.id)
        return url_for("storefront.product_detail", product_id=product.id, _external=True)
    return None


def resume_link(inquiry):
    """The link in an answer email: the product's page, with a resume token in the fragment.

    The fragment never reaches a server (or its logs); the loader on that page
    hands the token to the chat, which exchanges it for a session.
    """
    from . import identity

    product = inquiry.product
    page = product_page(product, in_email=True) or external(
        "embed.page", site=product.site.public_id, external_id=product.external_id
    )
    return f"{page}#productchat-resume={identity.resume_token(inquiry.session_id)}"


def widget_loader():
    """Absolute URL of the embed loader script, on the host the admin is using."""
    return url_for("embed.loader", _external=True)
