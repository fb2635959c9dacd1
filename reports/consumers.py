# See issue work for this app.
