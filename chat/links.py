"""Absolute links, built from configuration only: ``PUBLIC_BASE_URL`` for our own pages,
a site's listed origins for the shop's.

Mails are written in requests (an urgent question) and in the worker (the
periodic scan), pages in requests that anyone can send with any ``Host``: a
link must never point wherever a request claimed we are.
"""

from flask import current_app, url_for

from .services import sites


def external(endpoint, **values):
    """``url_for`` against ``PUBLIC_BASE_URL`` (never the request's host)."""
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def seen_on(product):
    """The product's page on the shop (synced, or where the widget first saw it), while it
    is on one of the site's page origins: checked each time, as origins change."""
    url = product.page_url
    return url.split("#", 1)[0] if url and sites.page_url_allowed(product.site, url) else None


def product_page(product):
    """Where shoppers see the product: ``seen_on``, or our own page for the demo shop; None while unknown."""
    page = seen_on(product)
    if page is None and product.site.public_id == sites.DEMO_SITE_ID:
        page = external("storefront.product_detail", product_id=product.id)
    return page


def chat_page(product):
    """Our own page of the product's chat (opened on its own, outside any shop page)."""
    return external("embed.page", site=product.site.public_id, external_id=product.external_id)


def resume_link(inquiry):
    """The link in an answer email to the inquiry's address: the product's page (or our
    chat page), with a single-use resume token in the fragment.

    The fragment never reaches a server (or its logs); the loader on that page
    hands the token to the chat, which exchanges it for a session.
    """
    from .services import resume_links

    product = inquiry.product
    page = product_page(product) or chat_page(product)
    return f"{page}#productchat-resume={resume_links.mint(inquiry)}"


def widget_loader():
    """Absolute URL of the embed loader script, at our public address."""
    return external("embed.loader")
