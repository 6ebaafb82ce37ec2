from __future__ import annotations

import pytest

from consent.models import Citizen
from providers.models import Habilitation, Organisation
from tests.conftest import ApiCaller

pytestmark = pytest.mark.django_db


class TestPersonas:
    def test_it_gives_the_city_hall_every_demo_type_and_the_department_none(
        self, mairie: Organisation, cd_rhone: Organisation
    ) -> None:
        assert Habilitation.objects.filter(consumer=mairie, status="approved").count() == 8
        assert not Habilitation.objects.filter(consumer=cd_rhone).exists()

    def test_it_makes_citizens_the_population_knows(self, alice: Citizen, bob: Citizen) -> None:
        assert alice.subject != bob.subject
        assert alice.ref != bob.ref and len(alice.ref) == 64

    def test_it_issues_a_bearer_token_the_api_accepts(self, mairie_caller: ApiCaller, client: object) -> None:
        from oauth2_provider.models import AccessToken

        assert AccessToken.objects.get(token=mairie_caller.token).is_valid(["consents:read"])
