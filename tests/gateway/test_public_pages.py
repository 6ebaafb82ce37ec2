"""The public pages' small things: the home page's title says the site's name once, the
accessibility statement gives a way to write, and the login buttons' addresses, followed as
links, lead to the login pages instead of an empty 405."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def title(page: str) -> str:
    match = re.search(r"<title>\s*(.*?)\s*</title>", page, flags=re.DOTALL)
    assert match, "the page has no title"
    return match.group(1)


def test_the_home_page_is_titled_with_the_site_s_name_once(client: Client) -> None:
    assert title(client.get("/").content.decode()) == "Dites-le-nous une fois"
    assert title(client.get("/", headers={"Accept-Language": "en"}).content.decode()) == "Provide it once"
