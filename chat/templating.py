"""The app's Jinja environment: Flask's, with each template's globals in one dict."""

from flask.templating import Environment as FlaskEnvironment


class Environment(FlaskEnvironment):
    def make_globals(self, d):
        """A template's globals as one dict, where Jinja makes a ChainMap over the
        environment's. Every render copies its template's globals into a new context, and
        copying a ChainMap costs a Python call per name (about 40 here): a sixth of a live
        list row's rendering (docs/benchmarks.md). The app sets its globals at start-up,
        before any template is loaded, as Jinja asks; a template loaded earlier would not
        see a global added later (``tests/test_templates.py`` checks every template)."""
        return {**self.globals, **(d or {})}
