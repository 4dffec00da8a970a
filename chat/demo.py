"""The demo shop: a site with a dozen products, and one admin, inserted idempotently."""

import os
import secrets
from decimal import Decimal

from flask import current_app

from .extensions import db
from .models import Product, User, utcnow

DEMO_ADMIN_EMAIL = "admin@example.com"

DEMO_PRODUCTS = [
    (
        "Trailhead 35L Hiking Backpack",
        'A light top-loading pack with a ventilated back panel, rain cover and hip-belt pockets. Fits a 15" laptop sleeve for the commute.',
        "129.00",
        14,
    ),
    (
        "Aeropress Go Coffee Maker",
        "Compact immersion brewer that packs into its own mug. Makes one to three cups of smooth, low-acid coffee in about a minute.",
        "39.90",
        42,
    ),
    (
        "Merino Crew Sweater",
        "Fine-gauge 100% merino wool, machine washable on a wool cycle. Regular fit; true to size.",
        "89.00",
        23,
    ),
    (
        "Cast Iron Skillet 26 cm",
        "Pre-seasoned cast iron, oven-safe to 260 °C and induction ready. Heavy enough to hold heat for a proper sear.",
        "44.50",
        8,
    ),
    (
        "Noise-Cancelling Headphones",
        "Over-ear Bluetooth 5.3 headphones with adaptive noise cancelling, 40-hour battery and multipoint pairing.",
        "199.00",
        5,
    ),
    (
        "Bamboo Cutting Board Set",
        "Three boards (small, medium, large) with juice grooves and non-slip feet. Oil monthly with food-grade mineral oil.",
        "34.00",
        61,
    ),
    (
        "Linen Duvet Cover, Queen",
        "Stonewashed European flax linen; softens with every wash. Coconut-shell buttons and corner ties.",
        "149.00",
        11,
    ),
    (
        "Smart LED Desk Lamp",
        "Dimmable lamp with five colour temperatures, a USB-C charging port and an auto-off timer.",
        "59.00",
        30,
    ),
    (
        "Stainless Water Bottle 750 ml",
        "Double-wall vacuum insulation keeps drinks cold for 24 hours or hot for 12. Leak-proof lid, dishwasher safe.",
        "27.50",
        120,
    ),
    (
        "Yoga Mat, 6 mm",
        "Natural rubber base with a polyurethane top for grip when wet. 183 × 68 cm, carrying strap included.",
        "74.00",
        17,
    ),
    ("Ceramic Pour-Over Set", "Hand-glazed dripper and 600 ml carafe. Uses standard #2 filters.", "48.00", 0),
    (
        "Kids' Waterproof Rain Jacket",
        "Seam-sealed shell with a fleece-lined collar and reflective trims. Sizes 4 to 12 years.",
        "55.00",
        26,
    ),
]


DEMO_AGENT_EMAIL = "agent@example.com"


def _demo_password_path(who="admin"):
    return os.path.join(current_app.instance_path, f"demo-{who}-password")


def demo_admin_password(who="admin"):
    """The demo admin's (or agent's) password: random once, kept under instance/."""
    path = _demo_password_path(who)
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(secrets.token_urlsafe(9))
    with open(path) as fh:
        return fh.read().strip()


def seed_demo_agent():
    """The demo's agent (the demo site only), if missing; returns (email, password)."""
    from .services import sites

    password = demo_admin_password("agent")
    agent = db.session.scalar(db.select(User).filter_by(email=DEMO_AGENT_EMAIL))
    if agent is None:
        agent = User(email=DEMO_AGENT_EMAIL, name="Demo Agent", role="agent", all_sites=False)
        agent.sites = [sites.demo_site()]
        agent.set_password(password)
        db.session.add(agent)
        db.session.commit()
    return DEMO_AGENT_EMAIL, password


def seed_demo():
    """Insert the demo site, its products and the admin (an owner of every site) if missing;
    returns (email, password)."""
    from .services import sites

    site = sites.demo_site()
    existing = {name for (name,) in db.session.execute(db.select(Product.name).filter_by(site_id=site.id))}
    for name, description, price, stock in DEMO_PRODUCTS:
        if name not in existing:
            product = Product(
                site_id=site.id,
                external_id="new-" + secrets.token_hex(8),
                name=name,
                description=description,
                price=Decimal(price),
                stock=stock,
                synced_at=utcnow(),
            )
            db.session.add(product)
            db.session.flush()
            # The demo shop's own id for a product is its id here.
            product.external_id = str(product.id)
    password = demo_admin_password()
    admin = db.session.scalar(db.select(User).filter_by(email=DEMO_ADMIN_EMAIL))
    if admin is None:
        admin = User(email=DEMO_ADMIN_EMAIL, name="Demo Admin", role="owner", all_sites=True)
        admin.set_password(password)
        db.session.add(admin)
    db.session.commit()
    return DEMO_ADMIN_EMAIL, password
