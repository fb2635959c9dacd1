"""The site speaks Russian unless the user chose English with the switch; the browser's Accept-Language is ignored.

Django's LocaleMiddleware takes the language from the language cookie (set by the ``set_language`` view behind
the switch in base.html), then from Accept-Language, then settings.LANGUAGE_CODE. Bank staff and clients mostly
run browsers set to English, so the middle step would make the portal English for people who never asked for it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils.cache import patch_vary_headers


class ChosenLanguageMiddleware(LocaleMiddleware):
    """LocaleMiddleware without Accept-Language: the chosen-language cookie, else settings.LANGUAGE_CODE."""

    def process_request(self, request: HttpRequest) -> None:
        # Removed for the whole request, so nothing downstream can pick the browser's language either.
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        # The page depends on the language cookie, not on Accept-Language (which LocaleMiddleware names).
        vary = [v.strip() for v in response.get("Vary", "").split(",") if v.strip()]
        kept = [v for v in vary if v.lower() != "accept-language"]
        if kept != vary:
            if kept:
                response["Vary"] = ", ".join(kept)
            else:
                del response["Vary"]
        patch_vary_headers(response, ("Cookie",))
        return response
