import pytest

from chat import create_app


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    import config

    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_starts_with_a_secret_key(monkeypatch, tmp_path):
    import config

    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "x" * 40)
    monkeypatch.setattr(config.ProductionConfig, "SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/p.sqlite")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not app.debug and not app.testing


def test_passwords_are_hashed_with_scrypt_outside_the_tests(monkeypatch, tmp_path):
    """TestingConfig's cheap hash only saves the suite time: every other config stores scrypt."""
    import config
    from chat.models import User

    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "x" * 40)
    monkeypatch.setattr(config.ProductionConfig, "SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/p.sqlite")
    with create_app("production").app_context():
        user = User(email="a@x.example", name="A")
        user.set_password("correct horse")
        assert user.password_hash.startswith("scrypt:") and user.check_password("correct horse")


def test_unknown_configuration_name_is_refused():
    with pytest.raises(RuntimeError, match="unknown configuration"):
        create_app("staging")


def test_mysql_urls_get_pre_ping_recycle_and_timeouts():
    from config import engine_options

    options = engine_options("mysql+pymysql://root@127.0.0.1/test")
    assert options["pool_pre_ping"] is True and options["pool_recycle"] == 280
    # An unreachable server fails fast (a 503) rather than holding requests.
    assert options["connect_args"]["connect_timeout"] == 2 and options["pool_timeout"] == 5


def _gunicorn_conf():
    """What gunicorn.conf.py defines, run as the web server runs it first."""
    import os
    import runpy

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return runpy.run_path(os.path.join(root, "gunicorn.conf.py"))


def test_only_the_web_server_cuts_off_slow_queries(monkeypatch):
    from config import engine_options

    # Set then deleted, so that monkeypatch restores its absence after the test.
    monkeypatch.setenv("DATABASE_QUERY_TIMEOUT_SECONDS", "")
    monkeypatch.delenv("DATABASE_QUERY_TIMEOUT_SECONDS")
    assert "read_timeout" not in engine_options("mysql+pymysql://root@127.0.0.1/test")["connect_args"]
    _gunicorn_conf()  # what the web server reads first
    args = engine_options("mysql+pymysql://root@127.0.0.1/test")["connect_args"]
    assert args["read_timeout"] == 2 and args["write_timeout"] == 2
    assert engine_options("sqlite://") == {}


@pytest.mark.parametrize(
    "setting, thresholds",
    [("on", (50_000, 20, 10)), ("", (50_000, 20, 10)), ("off", None), ("10000, 5, 10", (10_000, 5, 10))],
)
def test_gc_tuning_takes_on_off_or_thresholds(setting, thresholds):
    assert _gunicorn_conf()["gc_thresholds"](setting) == thresholds


@pytest.mark.parametrize("setting", ["10000,5", "0,5,10", "many"])
def test_a_bad_gc_tuning_stops_the_worker_with_a_clear_error(setting):
    with pytest.raises(ValueError, match="GC_TUNING"):
        _gunicorn_conf()["gc_thresholds"](setting)
