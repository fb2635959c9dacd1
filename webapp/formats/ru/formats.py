"""Russian: 15.11.2026 and 14:05 (24-hour), in the site's zone (settings.TIME_ZONE).

One date format and one time format; the named formats below only combine them. Templates name them
(``|date:"SHORT_DATETIME_FORMAT"``), Python code goes through lib.timefmt. Anything not set here (input formats,
separators) is Django's own Russian.
"""

DATE_FORMAT = "d.m.Y"  # 15.11.2026
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"  # 14:05
SHORT_DATETIME_FORMAT = f"{DATE_FORMAT} {TIME_FORMAT}"  # 15.11.2026 14:05: lists, tables, report header
DATETIME_FORMAT = f"{DATE_FORMAT} {TIME_FORMAT}:s"  # 15.11.2026 14:05:09: records where the second counts (consent)
MONTH_DAY_FORMAT = "d.m"  # 15.11: a day on a chart axis
YEAR_MONTH_FORMAT = "m.Y"  # 11.2026: a month in the trends
