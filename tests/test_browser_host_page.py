"""What crosses between a shop's page and our loader (docs/security.md, section 2) and has
no other test: the resume token in the page's address, and the token a browser keeps for
one customer."""

import re

import pytest

from .host_page import HostPage, product_page
from .test_browser_embed import create_site
from .widget import Widget

pytestmark = pytest.mark.browser


def test_a_resume_token_leaves_the_address_bar_at_once_and_never_goes_into_a_url(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context()
        page = context.new_page()
        urls = []
        context.on("request", lambda request: urls.append(request.url))
        token = "resume-token-that-must-stay-out-of-urls"
        page.goto(host.url("/vase#productchat-resume=" + token))
        Widget(page).box.wait_for()  # a resume link opens the chat
        assert page.evaluate("location.href") == host.url("/vase")  # nothing left to copy, share or log
        assert [url for url in urls if token in url] == []  # handed over by postMessage, posted in a body
        context.close()


def test_a_token_kept_for_one_customer_is_never_handed_to_another(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        # The same browser, now on a page that says another person is logged in (its signature
        # is not even valid: the loader drops the stored token before anything is verified).
        kim = 'data-customer-id="kim-1" data-customer-email="kim@example.com" data-customer-timestamp="1" '
        host.pages["/kim"] = product_page(
            shop_server.url, site, "vase-24", extra_attrs=kim + 'data-customer-signature="00"'
        )
        context = browser.new_context()
        page = context.new_page()
        page.goto(host.url("/vase"))
        Widget(page).open().send("Only mine")
        page.goto(host.url("/kim"))
        widget = Widget(page)
        widget.box.wait_for()  # the panel stays open across pages
        page.wait_for_timeout(1500)
        assert "Only mine" not in widget.log.inner_text()
        page.goto(host.url("/vase"))  # the anonymous shopper's own token is still theirs
        Widget(page).log.locator("li.msg.own", has_text="Only mine").wait_for()
        assert re.search(r"Only mine", Widget(page).log.inner_text())
        context.close()
