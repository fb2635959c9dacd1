from __future__ import annotations

import json
import os
import time

from oauth2_provider.oauth2_validators import OAuth2Validator


def _people() -> dict:
    return json.loads(os.environ["OIDC_PROVIDER_PEOPLE"])


class ClaimsValidator(OAuth2Validator):
    """E-mail and the bank's role claim, as the directory holds them; a person may have no role claim at all."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "roles": "profile"}

    def get_additional_claims(self, request) -> dict:
        person = _people()[request.user.username]
        claims = {"email": person["email"], "name": person.get("name", "")}
        if "roles" in person:
            claims["roles"] = person["roles"]
        return claims

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        if request.client.name == "wrong-audience":
            claims["aud"] = "some-other-application"
        if request.client.name == "expired":
            claims["exp"] = int(time.time()) - 600
        return claims, expiration_time
