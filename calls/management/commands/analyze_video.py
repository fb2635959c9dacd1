"""Analyse a recorded call from a video file and print the call summary."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from calls.scoring import get_engine
from engine.labels import EXPRESSIONS, VALENCES
from engine.video import BadVideo, analyze_video

BAR_WIDTH = 30


def text_bar(stream: OutputWrapper) -> Callable[[float], None]:
    """A progress callback drawing ``[#####.....]  42%`` in place on ``stream`` (the command's stderr)."""
    last = [-1]

    def update(fraction: float) -> None:
        percent = int(fraction * 100)
        if percent == last[0]:
            return
        last[0] = percent
        filled = int(fraction * BAR_WIDTH)
        stream.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}%", ending="\n" if percent >= 100 else ""
        )
        stream.flush()

    return update


def format_summary(summary: dict) -> str:
    satisfaction = "-" if summary["satisfaction_pct"] is None else f"{summary['satisfaction_pct']:.1f} %"
    lines = [
        f"frames analysed      {summary['frames']} ({summary['frames_with_face']} with a readable face)",
        f"duration             {summary['duration_ms'] / 1000:.1f} s",
        f"face visible         {summary['face_visible_pct']:.1f} %",
        f"satisfaction         {satisfaction}",
        f"dominant expression  {summary['dominant'] or '-'}",
        "",
        f"{'expression':<12} {'% of face time':>15}",
    ]
    lines += [f"{name:<12} {summary['expressions_pct'][name]:>15.1f}" for name in EXPRESSIONS]
    lines.append("")
    lines += [f"{name:<12} {summary['valence_pct'][name]:>15.1f}" for name in VALENCES]
    episodes = summary["negative_episodes"]
    lines.append("")
    lines.append(f"negative episodes    {len(episodes)}")
    for ep in episodes:
        lines.append(f"  {ep['start_ms'] / 1000:7.1f}-{ep['end_ms'] / 1000:.1f} s  peak {ep['peak_score']:.2f}")
    if summary["gaps"]:
        lines.append(f"gaps                 {len(summary['gaps'])}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Analyse the client's expressions in a video file (mp4, webm, flv...) and print the call summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="video file")
        parser.add_argument("--fps", type=float, default=2.0, help="frames analysed per second (default 2)")
        parser.add_argument("--json", action="store_true", help="end with one JSON line: summary and timeline")

    def handle(self, *args, **options) -> None:
        if options["fps"] <= 0 or options["fps"] > 60:
            raise CommandError("--fps must be in (0, 60]")
        if not get_engine().classifier_path.exists():
            raise CommandError(f"classifier model not found: {get_engine().classifier_path}")
        try:
            result = analyze_video(
                options["file"], fps=options["fps"], progress=text_bar(self.stderr), engine=get_engine()
            )
        except BadVideo as exc:
            raise CommandError(f"{options['file']}: {exc}") from None
        self.stdout.write(format_summary(result["summary"]))
        if options["json"]:
            self.stdout.write(json.dumps(result))
