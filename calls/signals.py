"""Events of a call's life, for the apps downstream of it (sent by calls.lifecycle).

Receivers:

* ``call_started(call, client_link)``: dion.receivers.start_meeting creates the Dion meeting and sends the
  manager the call's links in Dion (client_link None: none to share). A receiver may return a warning for the
  manager (a str) or None; the start view shows the warnings.
* ``call_ended(call_id, reason)``: reports.receivers.build_report queues the call's report (reports.tasks),
  which then notifies the manager and tells the live sockets where the report is.
* ``consent_withdrawn(call_id)``: reports.receivers.delete_report deletes the call's report, inside the
  withdrawal's transaction (sent before the commit, so the deletion is all or nothing with it).
"""

from django.dispatch import Signal

call_started = Signal()
call_ended = Signal()
consent_withdrawn = Signal()
