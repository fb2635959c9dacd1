"""Start the test OpenID Connect provider: migrate its own database, load people and clients, serve HTTP.

python -m tests.support.oidc_provider.serve PORT CLIENTS_JSON   (environment: see settings.py)
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    port, clients = int(sys.argv[1]), json.loads(sys.argv[2])
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for username, person in json.loads(os.environ["OIDC_PROVIDER_PEOPLE"]).items():
        User.objects.create_user(username, email=person["email"], password=person["password"])
    for client in clients:
        Application.objects.create(
            name=client["name"],
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=client["redirect_uri"],
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
            hash_client_secret=False,
        )
    run("127.0.0.1", port, get_wsgi_application(), threading=True)


if __name__ == "__main__":
    main()
