"""Offline training of the expression classifier (torch is imported here only, never at run time)."""
