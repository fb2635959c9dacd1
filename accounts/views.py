# Sign-in and sign-out use Django's own views (see urls.py).
