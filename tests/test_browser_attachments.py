"""A shopper on a phone sends a photo from the widget on another shop's page; the admin sees it live.

The host page is on http://localhost:<port>, the chat on http://127.0.0.1:<port> (a third-party
frame: no cookies), as in test_browser_embed.py.
"""

import pytest

from . import files
from .browser import screenshot
from .host_page import HostPage, product_page
from .test_browser_embed import admin_page, create_site, errors_of
from .widget import Widget, last_inquiry_id

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def slow_uploads(context, page, bytes_per_second=100 * 1024):
    """A slow uplink for the chat's frame (a phone on a weak signal), so an upload takes seconds."""
    frame = next(f for f in page.frames if "/embed/" in f.url)
    session = context.new_cdp_session(frame)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


def stored_file_names(server):
    import sqlite3

    path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("select filename from message_attachments order by id")]


def loaded(locator):
    return locator.evaluate("img => img.complete && img.naturalWidth > 0")


def test_a_shopper_on_a_phone_sends_a_photo_and_the_admin_sees_it_live(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/camera"] = product_page(shop_server.url, site, "cam-7", title="Compact camera · Clay & Co")
        phone = browser.new_context(**PHONE)
        page = phone.new_page()
        problems = errors_of(page)
        page.goto(host.url("/camera"))
        widget = Widget(page)
        widget.launcher.tap()
        widget.box.wait_for()
        widget.box.fill("It arrived broken")
        widget.frame.get_by_role("button", name="Send").tap()
        widget.log.locator("li.own:not(.pending)").wait_for()

        # The admin has the inquiry open before the photo comes.
        admin_context, admin = admin_page(browser, shop_server)
        admin.goto(f"{shop_server.url}/admin/inquiries/{last_inquiry_id(shop_server)}")
        admin.get_by_text("It arrived broken").wait_for()
        admin.wait_for_timeout(500)  # the page's stream is open

        # The phone's picker (the camera or the photos) hands the widget a photo: it shows in the tray.
        slow_uploads(phone, page)
        picker = widget.frame.locator("[data-attach-input]")
        assert "image/*" in picker.get_attribute("accept")
        photo = files.jpeg_with_gps(1600, 1200, grain=True)
        picker.set_input_files([{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": photo}])
        tray = widget.frame.locator("[data-attach-tray] li")
        tray.wait_for()
        assert "IMG_2041.jpg" in tray.inner_text()
        widget.box.fill("The lens is scratched")
        widget.frame.get_by_role("button", name="Send").tap()

        # While it uploads: a bar per file that moves, and a cancel button, in the message being sent.
        pending = widget.log.locator("li.pending")
        pending.locator("progress").wait_for()
        widget.frame.locator("li.pending progress:not([value='0'])").wait_for(timeout=10000)
        assert 0 < int(pending.locator("progress").get_attribute("value")) < 100
        assert pending.get_by_role("button", name="Do not send IMG_2041.jpg").count() == 1
        screenshot(page, "attach-phone-uploading")

        # Stored: the shopper sees the thumbnail (a signed URL of ours, loaded in the frame).
        thumbnail = widget.log.locator("li.own:not(.pending) img[data-attachment]")
        thumbnail.wait_for(timeout=30000)
        thumbnail.evaluate("img => img.decode()")
        assert loaded(thumbnail)
        assert thumbnail.get_attribute("alt") == "IMG_2041.jpg"
        assert widget.log.locator("li.own:not(.pending)", has_text="The lens is scratched").count() == 1
        screenshot(page, "attach-phone-sent")

        # The admin sees it inline, live, without reloading.
        inline = admin.locator("#chat-log img[data-attachment]")
        inline.wait_for(timeout=15000)
        inline.evaluate("img => img.decode()")
        assert loaded(inline) and inline.get_attribute("alt") == "IMG_2041.jpg"
        assert "📎" not in admin.locator("#chat-log").inner_text()
        screenshot(admin, "attach-admin-inline")

        # The admin answers with a PDF from the answer box: the shopper gets it live, as a download.
        admin.locator("[data-attach-input]").set_input_files(
            [{"name": "return-label.pdf", "mimeType": "application/pdf", "buffer": files.pdf()}]
        )
        admin.locator("[data-attach-tray] li", has_text="return-label.pdf").wait_for()
        admin.locator("#chat-text").fill("Sorry! Here is a return label.")
        admin.locator("#chat-text").press("Enter")
        label = widget.log.locator("li.theirs .file-link", has_text="return-label.pdf")
        label.wait_for(timeout=15000)
        assert label.get_attribute("download") == "return-label.pdf"
        screenshot(page, "attach-phone-answer")
        admin.goto(f"{shop_server.url}/admin?status=all")
        row = admin.locator("tr.inquiry-row", has_text="Compact camera")
        row.wait_for()
        assert "return-label.pdf" in row.locator(".preview").inner_text()
        assert problems == []
        admin_context.close()
        phone.close()


def test_a_cancelled_file_is_not_sent_and_a_refused_one_says_why(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/camera"] = product_page(shop_server.url, site, "cam-8", title="Tripod · Clay & Co")
        context = browser.new_context(viewport={"width": 1024, "height": 800})
        page = context.new_page()
        page.goto(host.url("/camera"))
        widget = Widget(page)
        widget.open()
        slow_uploads(context, page)
        picker = widget.frame.locator("[data-attach-input]")
        big_pdf = files.pdf().ljust(300_000, b" ")
        picker.set_input_files(
            [
                {"name": "keep.jpg", "mimeType": "image/jpeg", "buffer": files.noisy_jpeg(200_000, 600)},
                {"name": "oops.pdf", "mimeType": "application/pdf", "buffer": big_pdf},
            ]
        )
        widget.frame.locator("[data-attach-tray] li").nth(1).wait_for()
        widget.box.fill("Two files")
        widget.box.press("Enter")
        widget.log.locator("li.pending progress").nth(1).wait_for()
        widget.log.locator("li.pending").get_by_role("button", name="Do not send oops.pdf").click()
        # The upload starts again without the cancelled file.
        assert widget.log.locator("li.pending progress").count() == 1
        sent = widget.log.locator("li.own:not(.pending)", has_text="Two files")
        sent.wait_for(timeout=30000)
        assert sent.locator("img[data-attachment]").get_attribute("alt") == "keep.jpg"
        assert sent.locator(".file-link").count() == 0
        assert stored_file_names(shop_server) == ["keep.jpg"]

        # A page saved as .jpg is refused by the server: it comes back to the tray with the reason.
        picker.set_input_files([{"name": "fake.jpg", "mimeType": "image/jpeg", "buffer": files.HTML_AS_JPG}])
        widget.box.fill("And this")
        widget.box.press("Enter")
        refused = widget.frame.locator("[data-attach-tray] li.refused")
        refused.wait_for(timeout=10000)
        assert "fake.jpg is not a picture" in refused.inner_text()
        assert widget.box.input_value() == "And this"
        screenshot(page, "attach-refused")

        # Pasted into the box, or dropped on the chat: into the tray as well.
        widget.frame.locator("[data-attach-tray] li.refused").get_by_role("button", name="Remove fake.jpg").click()
        widget.box.evaluate(
            """box => {
              const files = new DataTransfer();
              files.items.add(new File([new Uint8Array([137, 80, 78, 71])], "pasted.png", {type: "image/png"}));
              box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: files, bubbles: true, cancelable: true}));
            }"""
        )
        widget.frame.locator("[data-conversation]").evaluate(
            """chat => {
              const files = new DataTransfer();
              files.items.add(new File(["%PDF-1.4"], "dropped.pdf", {type: "application/pdf"}));
              chat.dispatchEvent(new DragEvent("dragover", {dataTransfer: files, bubbles: true, cancelable: true}));
              chat.dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true, cancelable: true}));
            }"""
        )
        names = widget.frame.locator("[data-attach-tray] .attach-name").all_inner_texts()
        assert names == ["pasted.png", "dropped.pdf"]
        context.close()
