"""The municipality's name and logo: set by an admin, shown on every page (login too), the
logo always our own PNG re-encoding of what was uploaded."""

from __future__ import annotations

import io

from PIL import Image

from kontaktcenter.organisation import branding
from tests.factories import csrf_token


def _image(fmt: str = "PNG", size: tuple[int, int] = (1200, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def _broken_header() -> bytes:
    """A PNG whose IHDR chunk claims a wrong length (Pillow raises ValueError, not OSError)."""
    png = bytearray(_image("PNG", (20, 20)))
    png[8:12] = (5).to_bytes(4, "big")
    return bytes(png)


def _save(client, **fields):
    data = {"csrf_token": csrf_token(client, "/admin/kommun"), "name": "", **fields}
    return client.post("/admin/kommun", data=data, content_type="multipart/form-data")


def test_the_name_and_logo_show_on_every_page_even_before_login(org, client, login):
    login(org.admin)
    logo = (io.BytesIO(_image("JPEG")), "logga.jpg")
    response = _save(client, name="  Exempelby   kommun ", logo=logo)
    assert response.status_code == 302
    html = client.get("/admin/kommun").get_data(as_text=True)
    assert "<title>Kommunen – Administration – Kontaktcenter, Exempelby kommun</title>" in html
    src = html.split('class="brand-logo"')[0].rsplit('src="', 1)[1].split('"')[0]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login_page = client.get("/login").get_data(as_text=True)
    assert "Exempelby kommun" in login_page and src in login_page
    with client.get(src) as served:
        assert served.status_code == 200 and served.mimetype == "image/png"
        image = Image.open(io.BytesIO(served.data))
        assert image.format == "PNG" and image.size == (480, 160)  # re-encoded, scaled
        etag = served.headers["ETag"]
    assert client.get(src, headers={"If-None-Match": etag}).status_code == 304


def test_a_file_that_is_not_an_allowed_image_is_refused_with_a_reason(
    org, client, login, monkeypatch
):
    # A small limit for the test: a real 1 MB upload would spool to a temporary file.
    monkeypatch.setattr(branding, "LOGO_MAX_BYTES", 4000)
    login(org.admin)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    cases = [
        (svg, "Filen kunde inte läsas som en bild."),
        (_image("GIF", (10, 10)), "Använd en PNG-, JPEG- eller WebP-bild."),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "Filen kunde inte läsas som en bild."),
        (_broken_header(), "Filen kunde inte läsas som en bild."),
        (b"0" * 4001, "Bilden är för stor (högst 1 MB)."),
    ]
    for data, message in cases:
        response = _save(client, name="Exempelby kommun", logo=(io.BytesIO(data), "logga"))
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True)
    assert client.get("/kommun/logotyp.png").status_code == 404  # nothing was stored
    assert branding.current().name is None  # not even the name sent with the bad file


def test_the_logo_can_be_removed_and_only_admins_may_change_it(org, client, login):
    login(org.admin)
    _save(client, name="Exempelby kommun", logo=(io.BytesIO(_image()), "l.png"))
    assert client.get("/kommun/logotyp.png").status_code == 200
    _save(client, name="Exempelby kommun", remove_logo="y")
    assert client.get("/kommun/logotyp.png").status_code == 404
    login(org.manager)
    assert client.get("/admin/kommun").status_code == 403
