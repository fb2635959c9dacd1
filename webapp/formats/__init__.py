"""The portal's date and time formats, one set per language (settings.FORMAT_MODULE_PATH; see lib/timefmt.py)."""
