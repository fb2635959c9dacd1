"""Consent texts for live analysis of the client's face (RU and EN, versioned).

The record content follows 152-FZ art. 9 part 4: operator, purpose, the list of
personal data, the processing actions, the term, and how to withdraw. A text
never changes once published: a change is a new version, and every Consent row
keeps the version, the language and the SHA-256 of the exact text shown, so the
record page can prove which text the client agreed to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils.translation import gettext

CURRENT_VERSION = "2026-02"
DEFAULT_LANGUAGE = "ru"


@dataclass(frozen=True)
class ConsentText:
    version: str
    language: str
    title: str
    summary: str  # the short "what and why" shown above the consent button
    operator: str
    purpose: str
    data: tuple[str, ...]
    actions: tuple[str, ...]
    term: str
    withdrawal: str
    agree: str

    def canonical(self) -> str:
        """The exact text the hash covers (stable JSON: field order and escaping fixed)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()


def current_operator() -> str:
    """The operator's name and address (settings.MIMIC_OPERATOR); stored on each Consent with the text."""
    # Set MIMIC_OPERATOR in a deployment; the placeholder is shown in the client's language.
    return getattr(settings, "MIMIC_OPERATOR", "") or gettext("The bank operating this portal")


_TEXTS: dict[tuple[str, str], dict] = {
    (
        "2026-01",
        "en",
    ): {
        "title": "Consent to the analysis of facial expressions during this call",
        "summary": (
            "During this video call your personal manager would like to see, in real time, an estimate of your "
            "facial expressions (for example neutral, happy, sad) to notice when something in the conversation "
            "bothers you. Only your face on your camera is analysed. Video and images are never recorded or "
            "stored: each frame is analysed in memory and discarded; only the resulting scores are kept. "
            "You can stop at any moment with the Stop button."
        ),
        "operator": "{operator}",
        "purpose": (
            "Improving the quality of service: showing the personal manager an estimate of the client's facial "
            "expressions during the call and a summary report of the call."
        ),
        "data": (
            "video frames of your face from your camera, downscaled (at most 320 pixels), 2 to 5 per second, "
            "processed in memory only and never stored",
            "derived estimates per frame: whether a face was visible and probabilities of eight facial expressions",
            "the call summary computed from these estimates (shares of expressions, satisfaction estimate)",
            "the date and time of this consent and of its withdrawal",
        ),
        "actions": (
            "collection",
            "automated analysis",
            "recording and storage of the derived estimates",
            "use for the call report shown to the manager and the manager's supervisor",
            "deletion",
        ),
        "term": (
            "Frames are deleted immediately after analysis (within seconds). Derived estimates and the report "
            "are kept for the retention period set by the bank and then deleted. This consent is valid until "
            "the end of this call or until you withdraw it."
        ),
        "withdrawal": (
            "Press Stop on this page at any time, or ask your manager during the call. Analysis stops at once "
            "and the estimates already derived from your face in this call are deleted."
        ),
        "agree": "I agree to the analysis of my facial expressions during this call",
    },
    (
        "2026-01",
        "ru",
    ): {
        "title": "Согласие на анализ выражения лица во время этого звонка",
        "summary": (
            "Во время этого видеозвонка ваш персональный менеджер хотел бы видеть в реальном времени оценку "
            "выражения вашего лица (например, нейтральное, радость, грусть), чтобы заметить, если что-то в "
            "разговоре вас беспокоит. Анализируется только ваше лицо на вашей камере. Видео и изображения не "
            "записываются и не хранятся: каждый кадр анализируется в памяти и сразу удаляется, сохраняются "
            "только полученные оценки. Вы можете остановить анализ в любой момент кнопкой «Стоп»."
        ),
        "operator": "{operator}",
        "purpose": (
            "Повышение качества обслуживания: показ персональному менеджеру оценки выражения лица клиента во "
            "время звонка и итогового отчёта по звонку."
        ),
        "data": (
            "видеокадры вашего лица с вашей камеры в уменьшенном виде (не более 320 пикселей), от 2 до 5 в "
            "секунду; обрабатываются только в памяти и не хранятся",
            "производные оценки по каждому кадру: было ли видно лицо и вероятности восьми выражений лица",
            "итоговая сводка звонка, вычисленная из этих оценок (доли выражений, оценка удовлетворённости)",
            "дата и время дачи и отзыва этого согласия",
        ),
        "actions": (
            "сбор",
            "автоматизированный анализ",
            "запись и хранение производных оценок",
            "использование для отчёта по звонку, который видят менеджер и его руководитель",
            "удаление",
        ),
        "term": (
            "Кадры удаляются сразу после анализа (в течение секунд). Производные оценки и отчёт хранятся в "
            "течение срока, установленного банком, и затем удаляются. Согласие действует до окончания этого "
            "звонка или до его отзыва."
        ),
        "withdrawal": (
            "Нажмите «Стоп» на этой странице в любой момент или попросите менеджера во время звонка. Анализ "
            "сразу прекращается, а оценки, уже полученные по вашему лицу в этом звонке, удаляются."
        ),
        "agree": "Я согласен(на) на анализ выражения моего лица во время этого звонка",
    },
}

# 2026-02: the same consent, and it says that the moments an illustration was on the client's screen are marked
# (start and end times only), so the report can set the client's reaction beside what they were looking at.
_SHOWN = {
    "en": "the start and end times of the moments when an investment illustration was on your screen during the "
    "call (shown by your manager or opened by you), to set your reaction beside what you were looking at",
    "ru": "время начала и окончания моментов, когда во время звонка на вашем экране была инвестиционная "
    "иллюстрация (её показал менеджер или открыли вы), чтобы сопоставить вашу реакцию с тем, что вы видели",
}
for _language, _item in _SHOWN.items():
    _previous = _TEXTS[("2026-01", _language)]
    _data = _previous["data"]
    _TEXTS[("2026-02", _language)] = {**_previous, "data": (*_data[:3], _item, *_data[3:])}

VERSIONS: frozenset[str] = frozenset(version for version, _ in _TEXTS)
LANGUAGES: tuple[str, ...] = ("ru", "en")


def text_for(version: str, language: str, operator: str | None = None) -> ConsentText:
    """The published text of ``version`` in ``language``; KeyError for an unknown pair."""
    raw = _TEXTS[(version, language)]
    name = operator if operator is not None else current_operator()
    values = {k: (v.replace("{operator}", name) if isinstance(v, str) else v) for k, v in raw.items()}
    return ConsentText(version=version, language=language, **values)


def current_text(language: str | None) -> ConsentText:
    """Today's text in the client's language (Russian unless English was asked for)."""
    lang = (language or DEFAULT_LANGUAGE)[:2]
    return text_for(CURRENT_VERSION, lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
