from chat.extensions import db
from chat.models import Product

from .chat_helpers import make_product


def test_product_list_shows_every_demo_product(client, demo):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="product-card"') == 12
    assert "Trailhead 35L Hiking Backpack" in page
    assert "€129.00" in page  # per locale (Babel)


def test_product_page_shows_name_price_stock_and_description(client, app, demo):
    with app.app_context():
        product = db.session.scalar(db.select(Product).filter_by(name="Ceramic Pour-Over Set"))
    response = client.get(f"/products/{product.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Ceramic Pour-Over Set</h1>" in page
    assert "€48.00" in page
    assert "Out of stock" in page
    assert "standard #2 filters" in page


def test_product_text_is_escaped(client, app):
    with app.app_context():
        product_id = make_product(name="<script>alert(1)</script>", description="<b>bold</b>", price=1).id
    page = client.get(f"/products/{product_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_unknown_product_is_a_real_404_page(client, demo):
    response = client.get("/products/999999")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "<title>404 Not Found" in page
    assert "Back to the products" in page


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.is_json and "error" in response.get_json()


def test_the_demo_shop_shows_only_its_own_products(client, app, demo):
    """Another site's products are that shop's: our storefront answers 404 for them."""
    from chat.services import sites

    with app.app_context():
        site, _ = sites.create("Clay & Co", ["https://clay.example"])
        other = Product(site_id=site.id, external_id="vase-1", name="Blue vase, Clay & Co")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    response = client.get(f"/products/{other_id}")
    assert response.status_code == 404 and "Blue vase" not in response.get_data(as_text=True)
    assert client.get(f"/products/{other_id}/questions/1").status_code == 404
    assert "Blue vase" not in client.get("/").get_data(as_text=True)
