import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from accounts.middleware import TwoFactorScopeMiddleware  # noqa: E402
from calls.routing import websocket_urlpatterns  # noqa: E402
from lib.bodylimit import RequestSizeLimit, install_daphne_limit  # noqa: E402
from lib.origins import SiteOriginValidator  # noqa: E402

http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app
# Bodies over the limit are refused before Django spools them to disk (lib.bodylimit), and under daphne before
# Twisted does.
http_app = RequestSizeLimit(http_app)
if "daphne.server" in sys.modules:
    install_daphne_limit()

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # A foreign or null Origin is refused at the handshake, before any consumer runs; a session without its
        # verified second factor is anonymous.
        "websocket": SiteOriginValidator(
            AuthMiddlewareStack(TwoFactorScopeMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
