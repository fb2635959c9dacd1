# Forms for the emotions app live here (see the live-call pages).
