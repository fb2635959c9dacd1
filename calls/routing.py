from django.urls import path

from calls import consumers

websocket_urlpatterns = [
    path("ws/calls/<uuid:call_id>/capture/", consumers.ClientCaptureConsumer.as_asgi()),
    path("ws/calls/<uuid:call_id>/live/", consumers.ManagerLiveConsumer.as_asgi()),
]
