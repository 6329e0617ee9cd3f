"""eSpeak NG speech synthesis through ctypes, with phoneme and word timings.

The ``espeakng-loader`` wheel ships ``libespeak-ng`` and its data. Synthesis is synchronous: a
callback collects the 16-bit samples (22.05 kHz) and the events; phoneme events are enabled at
initialisation, so every phoneme and word comes with its sample position.

Why the library is loaded afresh for every utterance: libespeak-ng keeps synthesis state in
static variables (glottal phase, pitch flutter, noise generator), so the samples of an utterance
depend on what was synthesised before it in the same process, even after ``espeak_Terminate`` and
a new ``espeak_Initialize``. A private copy of the library is ``dlopen``-ed and ``dlclose``-d around
each utterance, and its random generator is seeded, which makes every rendering a pure function of
(text, voice, rate, pitch, seed); a probe at start-up checks that this holds on this platform.
"""

import atexit
import ctypes
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import _ctypes
import numpy as np

from espnet_brain.simulate.phonemes import PAUSE, espeak_to_arpabet

SAMPLE_RATE = 22050

# Voices of the English eSpeak NG data ("<language>+<variant>"), all rendered with the same phoneme set.
VOICES = (
    "en-us",
    "en-us+f3",
    "en-us+m3",
    "en-us+f2",
    "en-us+m7",
    "en-gb-x-rp",
    "en-gb-x-rp+f4",
    "en+m1",
)

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_PITCH = 3

logger = logging.getLogger(__name__)


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Segment:
    """A labelled time span in seconds from the start of the audio."""

    start: float
    end: float
    label: str


@dataclass
class Rendering:
    """One synthesised utterance.

    Attributes:
        audio: (S,) int16 samples at ``sample_rate``.
        sample_rate: 22050 (eSpeak NG's native rate).
        phonemes: ARPAbet phonemes with stress digits on vowels (``"AH0"``), pauses excluded.
        espeak_phonemes: the eSpeak mnemonics of ``phonemes`` (same length).
        words: words as they appear in the text, punctuation stripped (``"don't"``).
        voice, rate, pitch: synthesis settings (rate in words per minute, pitch 0-99).
    """

    audio: np.ndarray
    sample_rate: int
    phonemes: List[Segment]
    espeak_phonemes: List[str]
    words: List[Segment]
    voice: str
    rate: int
    pitch: int
    text: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def _word_tokens(text: str) -> List[Tuple[int, int, str]]:
    """(start_char, end_char, word) of whitespace-separated tokens, outer punctuation stripped."""
    tokens = []
    pos = 0
    for raw in text.split():
        start = text.index(raw, pos)
        pos = start + len(raw)
        word = raw.strip('.,;:!?"()[]')
        if word:
            tokens.append((start, pos, word))
    return tokens


def _assign_words(phonemes: list, word_events: list, tokens: list, n_samples: int) -> List[Segment]:
    """Word spans from word events (sample, 1-based char position) and phoneme spans.

    eSpeak NG sometimes reads two words as one ("with the"): the phonemes of such a group are shared
    among its words in proportion to their letter counts, at least one phoneme each.
    """
    starts = []  # (sample, first token index) of each event, in order
    for s, pos in word_events:
        for ti, (a, b, _) in enumerate(tokens):
            if a <= pos - 1 < b:
                if not starts or ti > starts[-1][1]:
                    starts.append((s, ti))
                break
    words = []
    for gi, (s, ti) in enumerate(starts):
        nxt_sample = starts[gi + 1][0] if gi + 1 < len(starts) else n_samples + 1
        nxt_token = starts[gi + 1][1] if gi + 1 < len(starts) else len(tokens)
        group = list(range(ti, nxt_token))
        inside = [p for p in phonemes if s <= p[0] < nxt_sample]
        if len(inside) < len(group):
            group = group[: max(1, len(inside))]
        if not inside:
            continue
        letters = np.array([len(tokens[t][2]) for t in group], float)
        bounds = np.round(np.cumsum(letters) / letters.sum() * len(inside)).astype(int)
        lo = 0
        for k, t in enumerate(group):
            hi = max(int(bounds[k]), lo + 1)
            hi = min(hi, len(inside) - (len(group) - k - 1))
            part = inside[lo:hi]
            words.append(Segment(part[0][0] / SAMPLE_RATE, part[-1][1] / SAMPLE_RATE, tokens[t][2]))
            lo = hi
    return words


class ESpeakSynthesizer:
    """Deterministic eSpeak NG synthesis (one instance per process is enough).

    Args:
        library_path: ``libespeak-ng`` to use; default: the one of ``espeakng_loader``.
        data_path: ``espeak-ng-data`` directory; default: the one of ``espeakng_loader``.
    """

    _lock = threading.Lock()

    def __init__(self, library_path: Optional[str] = None, data_path: Optional[str] = None):
        if library_path is None or data_path is None:
            try:
                import espeakng_loader
            except ImportError as e:  # pragma: no cover - dependency of the package
                raise ImportError(
                    "the simulator needs the `espeakng-loader` package: pip install espeakng-loader"
                ) from e
            library_path = library_path or espeakng_loader.get_library_path()
            data_path = data_path or espeakng_loader.get_data_path()
        if not os.path.isfile(library_path):
            raise ValueError(f"eSpeak NG library not found: {library_path}")
        if not os.path.isdir(data_path):
            raise ValueError(f"eSpeak NG data directory not found: {data_path}")
        self._data_path = data_path.encode()
        # A private copy: nobody else can hold a handle to it, so dlclose really unloads it.
        self._tmpdir = tempfile.mkdtemp(prefix="espnet_brain_espeak_")
        self._lib_path = os.path.join(self._tmpdir, "libespeak-ng-private.so")
        shutil.copyfile(library_path, self._lib_path)
        atexit.register(shutil.rmtree, self._tmpdir, True)
        self._samples: List[np.ndarray] = []
        self._events: List[Tuple[int, int, int, str]] = []
        self._callback = _CALLBACK(self._on_synth)
        self._check_determinism()

    def _on_synth(self, wav, n_samples, events) -> int:
        if n_samples > 0 and wav:
            self._samples.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                name = ev.id.string.split(b"\0", 1)[0].decode("utf-8", errors="replace")
                self._events.append((_EVENT_PHONEME, ev.sample, ev.text_position, name))
            elif ev.type == _EVENT_WORD:
                self._events.append((_EVENT_WORD, ev.sample, ev.text_position, ""))
            i += 1
        return 0

    def _run(self, text: str, voice: str, rate: int, pitch: int, seed: int) -> Tuple[np.ndarray, list]:
        lib = ctypes.CDLL(self._lib_path)
        try:
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.c_void_p,
                ctypes.c_void_p,
            ]
            sr = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data_path, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
            )
            if sr != SAMPLE_RATE:
                raise RuntimeError(f"eSpeak NG initialisation failed or unexpected sample rate: {sr}")
            lib.espeak_SetSynthCallback(self._callback)
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG voice not found: {voice!r}")
            lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
            lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
            lib.espeak_ng_SetRandSeed(int(seed))
            self._samples, self._events = [], []
            data = text.encode("utf-8")
            status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            if status != 0:
                raise RuntimeError(f"eSpeak NG synthesis failed (status {status}) for {text!r}")
            lib.espeak_Terminate()
        finally:
            handle = lib._handle
            del lib
            _ctypes.dlclose(handle)
        audio = np.concatenate(self._samples) if self._samples else np.zeros(0, np.int16)
        return audio.astype(np.int16), list(self._events)

    def _check_determinism(self) -> None:
        probe = "Where is the green boat?"
        first, _ = self._run(probe, VOICES[0], 170, 50, 1)
        self._run("Something else, first.", VOICES[1], 150, 40, 2)
        second, _ = self._run(probe, VOICES[0], 170, 50, 1)
        if not np.array_equal(first, second):
            raise RuntimeError(
                "eSpeak NG synthesis is not reproducible in this process (the library could not be unloaded "
                "between utterances); the simulated corpus would not be deterministic"
            )

    def synthesize(
        self, text: str, voice: str = VOICES[0], rate: int = 175, pitch: int = 50, seed: int = 1
    ) -> Rendering:
        """Synthesise ``text`` and return audio with ARPAbet phoneme and word timings.

        Args:
            text: Natural English text.
            voice: eSpeak NG voice name, e.g. ``"en-us+f3"``.
            rate: Speaking rate in words per minute (80-450).
            pitch: Base pitch, 0-99.
            seed: Seed of eSpeak NG's internal random generator (used by some voice variants).

        Returns:
            A :class:`Rendering`.
        """
        if not text.strip():
            raise ValueError("cannot synthesise empty text")
        with self._lock:
            audio, events = self._run(text, voice, rate, pitch, seed)
        n = len(audio)
        if n == 0:
            raise RuntimeError(f"eSpeak NG produced no audio for {text!r}")
        phon_events = [(min(s, n), name) for kind, s, _, name in events if kind == _EVENT_PHONEME]
        word_events = [(min(s, n), pos) for kind, s, pos, _ in events if kind == _EVENT_WORD]

        # Phoneme spans: from its event to the next phoneme event (pauses included), last one to the end.
        spans = []
        for i, (s, name) in enumerate(phon_events):
            end = phon_events[i + 1][0] if i + 1 < len(phon_events) else n
            spans.append([s, end, name])
        merged: List[list] = []
        for s, e, name in spans:
            arpa = espeak_to_arpabet(name)
            if arpa is None:
                # Markers such as ';' (linking) belong to the sound before them.
                if merged and merged[-1][3] != PAUSE:
                    merged[-1][1] = e
                continue
            if arpa == PAUSE:
                merged.append([s, e, name, PAUSE])
                continue
            for k, sub in enumerate(arpa):
                # Diphthong-like mnemonics that map to two ARPAbet phonemes share the span equally.
                a = s + (e - s) * k // len(arpa)
                b = s + (e - s) * (k + 1) // len(arpa)
                merged.append([a, b, name, sub])
        phonemes = [(s, e, name, lab) for s, e, name, lab in merged if lab != PAUSE and e > s]

        words = _assign_words(phonemes, word_events, _word_tokens(text), n)
        if len(words) != len(_word_tokens(text)):
            logger.warning("eSpeak NG timings found %d of %d words of %r", len(words), len(_word_tokens(text)), text)
        return Rendering(
            audio=audio,
            sample_rate=SAMPLE_RATE,
            phonemes=[Segment(s / SAMPLE_RATE, e / SAMPLE_RATE, lab) for s, e, _, lab in phonemes],
            espeak_phonemes=[name for _, _, name, _ in phonemes],
            words=words,
            voice=voice,
            rate=int(rate),
            pitch=int(pitch),
            text=text,
        )


_SYNTH: Optional[ESpeakSynthesizer] = None


def get_synthesizer() -> ESpeakSynthesizer:
    """The process-wide synthesizer (created on first use)."""
    global _SYNTH
    if _SYNTH is None:
        _SYNTH = ESpeakSynthesizer()
    return _SYNTH
