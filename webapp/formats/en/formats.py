"""English: 15 Nov 2026 and 14:05 (24-hour, the same clock as the Russian pages and the CSVs), in the site's zone.

The day-month-year order and the month's name leave no doubt about 05/11 versus 11/05. See ru/formats.py.
"""

DATE_FORMAT = "j M Y"  # 15 Nov 2026
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"  # 14:05
SHORT_DATETIME_FORMAT = f"{DATE_FORMAT}, {TIME_FORMAT}"  # 15 Nov 2026, 14:05
DATETIME_FORMAT = f"{DATE_FORMAT}, {TIME_FORMAT}:s"  # 15 Nov 2026, 14:05:09
MONTH_DAY_FORMAT = "j M"  # 15 Nov
YEAR_MONTH_FORMAT = "M Y"  # Nov 2026
