"""Full page or fragment: decided here, once, from the HX-Request header."""

from flask import make_response, render_template, request


def is_htmx():
    return request.headers.get("HX-Request") == "true"


def render(page_template, fragment_template, status=200, **context):
    """Render the fragment for HTMX requests and the full page otherwise."""
    template = fragment_template if is_htmx() else page_template
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def render_fragment(template, status=200, **context):
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
