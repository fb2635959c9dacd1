"""The one palette of every picture the portal draws (charts, illustrations); the same values as
static/css/mimic.css, so an SVG and the page around it agree."""

FONT = "'DejaVu Sans', 'Noto Sans', 'Segoe UI', Verdana, Arial, sans-serif"
INK = "#1d2733"
MUTED = "#5b6875"
GRID = "#dde3ea"
NEG = "#c0392b"
POS = "#1e8449"
NEUTRAL = "#7f8c8d"
ACCENT = "#0b6e4f"
# Okabe-Ito: distinguishable with colour-vision deficiency.
SERIES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
