"""Symbolic music and audio in NumPy, for chapter 11's music labs.

Everything is framework-neutral and written once:

* **Notes.** A melody is a list of ``(pitch, duration)`` pairs: ``pitch`` a MIDI
  note number (60 = middle C, 69 = A4 = 440 Hz) or :data:`REST`, ``duration`` a
  whole number of sixteenth notes (4 = a quarter note). :func:`parse_notes` reads
  the compact text form ``"E4:4 E4:2 G4:2"``.
* **Corpus.** :data:`MELODIES`: five public-domain melodies typed in by hand, in
  C major; :func:`melody_corpus` transposes each one into all 12 keys.
* **Tokens.** :class:`NoteTokenizer`: each note becomes two tokens, a pitch token
  then a duration token; :data:`BOS` starts each melody. ``decode`` reads model
  output back into notes and counts the tokens that break that grammar.
* **Sound.** :func:`midi_to_hz`, :func:`synthesize` (notes -> float32 waveform,
  a few harmonics under an attack/decay/release envelope so notes do not click),
  :func:`dominant_frequency` (FFT peak, to check the synthesiser),
  :func:`spectrogram`, and μ-law companding (:func:`mu_law_encode`,
  :func:`mu_law_decode`), the 256-level quantiser of WaveNet.
* **Judging melodies without ears.** :func:`key_fraction` (share of notes in the
  best-fitting major scale), :func:`interval_histogram` and :func:`total_variation`
  (does the melodic motion look like the training data?), :func:`copy_rate`
  (how many note n-grams are copied from the corpus: memorisation).
"""

from __future__ import annotations

import re

import numpy as np

from ._checks import check_int

REST = -1  # the pitch of a rest
SAMPLE_RATE = 16_000  # Hz, the default of the synthesiser
DURATIONS = (1, 2, 3, 4, 6, 8, 12, 16)  # in sixteenth notes: 1/16 ... whole note
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # pitch classes of a major scale above its tonic
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BOS = "<bos>"


# ----- notes ------------------------------------------------------------------------------
def note_name(pitch: int) -> str:
    """'C4' for 60, 'A4' for 69, 'rest' for :data:`REST`."""
    pitch = int(pitch)
    if pitch == REST:
        return "rest"
    if not 0 <= pitch <= 127:
        raise ValueError(
            f"pitch: expected a MIDI number in [0, 127] or REST, got {pitch}"
        )
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def name_to_midi(name: str) -> int:
    """MIDI number of a note name such as 'C4' (60), 'F#3', 'Bb4'; 'rest' or 'R' -> REST."""
    if name.lower() in ("rest", "r"):
        return REST
    m = re.fullmatch(r"([A-Ga-g])([#b]?)(-?\d)", name)
    if not m:
        raise ValueError(
            f"note name: expected e.g. 'C4', 'F#3', 'Bb4' or 'rest', got {name!r}"
        )
    letter, accidental, octave = m.groups()
    pc = NOTE_NAMES.index(letter.upper()) + {"": 0, "#": 1, "b": -1}[accidental]
    return 12 * (int(octave) + 1) + pc


def check_notes(notes, name: str = "notes") -> list[tuple[int, int]]:
    """Validate a melody: a sequence of (pitch, duration) pairs, pitch in [0, 127] or
    REST, duration a positive int (sixteenths). Returns a list of int tuples."""
    out = []
    for i, note in enumerate(notes):
        try:
            pitch, dur = note
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}[{i}]: expected a (pitch, duration) pair, got {note!r}"
            ) from None
        if (
            isinstance(pitch, bool)
            or not isinstance(pitch, (int, np.integer))
            or not (pitch == REST or 0 <= pitch <= 127)
        ):
            raise ValueError(
                f"{name}[{i}]: expected a MIDI pitch in [0, 127] or REST, got {pitch!r}"
            )
        dur = check_int(
            dur, f"{name}[{i}]", expected="a positive int duration (sixteenths)"
        )
        out.append((int(pitch), dur))
    return out


def parse_notes(text: str) -> list[tuple[int, int]]:
    """'C4:4 D4:2 rest:4' -> [(60, 4), (62, 2), (REST, 4)] (durations in sixteenths)."""
    notes = []
    for item in text.split():
        try:
            name, dur = item.split(":")
            notes.append((name_to_midi(name), int(dur)))
        except ValueError as err:
            raise ValueError(
                f"parse_notes: expected items like 'C4:4', got {item!r} ({err})"
            ) from None
    return check_notes(notes)


def transpose(notes, semitones: int) -> list[tuple[int, int]]:
    """Shift every pitch by ``semitones`` (rests stay rests)."""
    notes = check_notes(notes)
    semitones = check_int(semitones, "semitones", minimum=None)
    return check_notes([(p if p == REST else p + semitones, d) for p, d in notes])


# ----- the corpus --------------------------------------------------------------------------
# Public-domain melodies, in C major, typed in by hand (durations in sixteenths).
# --- corpus (shown in the book)
MELODIES = {
    # "Ah vous dirai-je maman" (French, 18th century), known as "Twinkle, Twinkle, Little Star"
    "twinkle": "C4:4 C4:4 G4:4 G4:4 A4:4 A4:4 G4:8 F4:4 F4:4 E4:4 E4:4 D4:4 D4:4 C4:8 "
    "G4:4 G4:4 F4:4 F4:4 E4:4 E4:4 D4:8 G4:4 G4:4 F4:4 F4:4 E4:4 E4:4 D4:8 "
    "C4:4 C4:4 G4:4 G4:4 A4:4 A4:4 G4:8 F4:4 F4:4 E4:4 E4:4 D4:4 D4:4 C4:8",
    # Beethoven, Symphony No. 9, "Ode to Joy" theme (1824)
    "ode_to_joy": "E4:4 E4:4 F4:4 G4:4 G4:4 F4:4 E4:4 D4:4 C4:4 C4:4 D4:4 E4:4 E4:6 D4:2 D4:8 "
    "E4:4 E4:4 F4:4 G4:4 G4:4 F4:4 E4:4 D4:4 C4:4 C4:4 D4:4 E4:4 D4:6 C4:2 C4:8 "
    "D4:4 D4:4 E4:4 C4:4 D4:4 E4:2 F4:2 E4:4 C4:4 D4:4 E4:2 F4:2 E4:4 D4:4 "
    "C4:4 D4:4 G3:8 "
    "E4:4 E4:4 F4:4 G4:4 G4:4 F4:4 E4:4 D4:4 C4:4 C4:4 D4:4 E4:4 D4:6 C4:2 C4:8",
    # "Frère Jacques" (French round, 18th century)
    "frere_jacques": "C4:4 D4:4 E4:4 C4:4 C4:4 D4:4 E4:4 C4:4 E4:4 F4:4 G4:8 E4:4 F4:4 G4:8 "
    "G4:2 A4:2 G4:2 F4:2 E4:4 C4:4 G4:2 A4:2 G4:2 F4:2 E4:4 C4:4 "
    "C4:4 G3:4 C4:8 C4:4 G3:4 C4:8",
    # "Au clair de la lune" (French, 18th century)
    "au_clair": "C4:4 C4:4 C4:4 D4:4 E4:8 D4:8 C4:4 E4:4 D4:4 D4:4 C4:16 "
    "C4:4 C4:4 C4:4 D4:4 E4:8 D4:8 C4:4 E4:4 D4:4 D4:4 C4:16",
    # 茉莉花 Mòlìhuā (Jiangsu folk song), first verse, simplified; numbered notation 1 = C
    "molihua": "E4:4 E4:2 G4:2 A4:2 C5:2 C5:2 A4:2 G4:4 G4:2 A4:2 G4:8 "
    "E4:4 E4:2 G4:2 A4:2 C5:2 C5:2 A4:2 G4:4 G4:2 A4:2 G4:8 "
    "G4:4 G4:4 G4:4 E4:2 G4:2 A4:4 A4:4 G4:8 "
    "E4:4 D4:2 E4:2 G4:4 E4:2 D4:2 C4:4 C4:2 D4:2 C4:8",
}
# --- end corpus


def melody_corpus(names=None, keys: int = 12) -> list[dict]:
    """Every melody of :data:`MELODIES` (or only ``names``) in ``keys`` keys.

    The shifts are -5 ... +6 semitones for ``keys=12`` (C major up to F# major
    and down to G major), so the pitch range stays near middle C. Returns a
    list of dicts ``{"name", "shift", "tonic", "notes"}`` (``tonic``: pitch class
    0-11 of the key).
    """
    names = list(MELODIES) if names is None else list(names)
    unknown = [n for n in names if n not in MELODIES]
    if unknown:
        raise ValueError(
            f"names: unknown melodies {unknown}; expected some of {list(MELODIES)}"
        )
    keys = check_int(keys, "keys", 1, 12)
    shifts = [s for s in range(-5, 7)][:keys] if keys == 12 else list(range(keys))
    out = []
    for name in names:
        base = parse_notes(MELODIES[name])
        for s in shifts:
            out.append(
                {"name": name, "shift": s, "tonic": s % 12, "notes": transpose(base, s)}
            )
    return out


# ----- tokens -----------------------------------------------------------------------------
class NoteTokenizer:
    """Notes <-> token ids: one pitch token then one duration token per note.

    Vocabulary: ``<bos>`` (id 0, starts each melody), ``rest``, the pitches
    ``low`` ... ``high``, then one token per allowed duration. A melody of n
    notes becomes ``[BOS, p1, d1, p2, d2, ..., pn, dn]`` (2n + 1 ids).
    """

    def __init__(self, low: int = 48, high: int = 84, durations=DURATIONS):
        if not (
            isinstance(low, (int, np.integer))
            and isinstance(high, (int, np.integer))
            and 0 <= low <= high <= 127
        ):
            raise ValueError(
                f"low, high: expected MIDI ints with 0 <= low <= high <= 127, got {low!r}, {high!r}"
            )
        durations = tuple(int(d) for d in durations)
        if (
            not durations
            or min(durations) <= 0
            or len(set(durations)) != len(durations)
        ):
            raise ValueError(
                f"durations: expected distinct positive ints, got {durations}"
            )
        self.low, self.high, self.durations = int(low), int(high), durations
        self.pitches = (REST,) + tuple(range(self.low, self.high + 1))
        self.tokens = (
            [BOS] + [note_name(p) for p in self.pitches] + [f"d{d}" for d in durations]
        )
        self.bos_id = 0
        self._pitch_id = {p: 1 + i for i, p in enumerate(self.pitches)}
        self._dur_id = {d: 1 + len(self.pitches) + i for i, d in enumerate(durations)}
        self._id_pitch = {i: p for p, i in self._pitch_id.items()}
        self._id_dur = {i: d for d, i in self._dur_id.items()}

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def is_pitch(self, ids) -> np.ndarray:
        ids = np.asarray(ids)
        return (ids >= 1) & (ids <= len(self.pitches))

    def is_duration(self, ids) -> np.ndarray:
        return np.asarray(ids) > len(self.pitches)

    def encode(self, notes, bos: bool = True) -> np.ndarray:
        """int64 ids of one melody (with a leading BOS unless ``bos=False``)."""
        notes = check_notes(notes)
        ids = [self.bos_id] if bos else []
        for i, (p, d) in enumerate(notes):
            if p not in self._pitch_id:
                raise ValueError(
                    f"notes[{i}]: pitch {p} ({note_name(p)}) is outside the "
                    f"tokenizer's range {note_name(self.low)}-{note_name(self.high)}"
                )
            if d not in self._dur_id:
                raise ValueError(
                    f"notes[{i}]: duration {d} is not one of {self.durations}"
                )
            ids += [self._pitch_id[p], self._dur_id[d]]
        return np.asarray(ids, np.int64)

    def encode_corpus(self, melodies) -> np.ndarray:
        """One long id sequence: every melody (lists of notes) behind its own BOS."""
        return np.concatenate([self.encode(m) for m in melodies])

    def decode(self, ids, return_errors: bool = False):
        """Notes from ids, read as the grammar ``(pitch duration)*``.

        Generated ids may break it: a duration with no pitch before it, or a pitch
        followed by another pitch or BOS. Those tokens are dropped; with
        ``return_errors=True`` their number is returned too. Reading stops at
        the second BOS (the start of the next melody).
        """
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"ids: expected a 1-D integer array, got dtype {ids.dtype} shape {ids.shape}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"ids: expected values in [0, {self.vocab_size}), got [{ids.min()}, {ids.max()}]"
            )
        notes, errors, pending = [], 0, None
        for i in ids.tolist():
            if i == self.bos_id:
                if notes or pending is not None:
                    break  # the next melody starts
            elif i in self._id_pitch:
                errors += pending is not None  # a pitch with no duration
                pending = self._id_pitch[i]
            elif pending is None:
                errors += 1  # a duration with no pitch
            else:
                notes.append((pending, self._id_dur[i]))
                pending = None
        errors += pending is not None
        return (notes, errors) if return_errors else notes

    def __repr__(self):
        return (
            f"NoteTokenizer({note_name(self.low)}-{note_name(self.high)}, "
            f"durations={self.durations}, vocab_size={self.vocab_size})"
        )


# ----- sound ------------------------------------------------------------------------------
def midi_to_hz(pitch):
    """Equal temperament: f = 440 Hz * 2 ** ((pitch - 69) / 12). Works on arrays."""
    p = np.asarray(pitch, np.float64)
    return 440.0 * 2.0 ** ((p - 69.0) / 12.0)


def _check_rate(sr) -> int:
    return check_int(sr, "sr", expected="a positive int sample rate in Hz")


# --- synth (shown in the book)
def synthesize(
    notes,
    sr: int = SAMPLE_RATE,
    bpm: float = 120.0,
    harmonics=(1.0, 0.5, 0.25),
    attack: float = 0.01,
    release: float = 0.05,
):
    """Render notes to a float32 waveform in [-1, 1] (mono, ``sr`` samples per second).

    A sixteenth lasts 60 / bpm / 4 seconds. Each note is a sum of harmonics
    (amplitude a_k at k * f0) under an envelope: a linear rise over ``attack``
    seconds, an exponential decay, and a linear fade to 0 over the last
    ``release`` seconds, so the waveform is continuous at note boundaries (no clicks).
    """
    notes = check_notes(notes)
    sr = _check_rate(sr)
    if not bpm > 0:
        raise ValueError(f"bpm: expected a positive tempo, got {bpm!r}")
    amps = np.asarray(harmonics, np.float64)
    if amps.ndim != 1 or amps.size == 0 or np.any(amps < 0) or amps.sum() == 0:
        raise ValueError(
            f"harmonics: expected non-negative amplitudes, not all 0, got {harmonics!r}"
        )
    sixteenth = 60.0 / bpm / 4
    chunks = []
    for pitch, dur in notes:
        n = int(round(dur * sixteenth * sr))
        t = np.arange(n) / sr
        if pitch == REST:
            chunks.append(np.zeros(n))
            continue
        f0 = midi_to_hz(pitch)
        tone = sum(
            a * np.sin(2 * np.pi * k * f0 * t)
            for k, a in enumerate(amps, start=1)
            if k * f0 < sr / 2
        )  # drop harmonics above the Nyquist frequency
        env = np.minimum(1.0, t / attack) * np.exp(-2.0 * t)  # attack, then decay
        env *= np.clip((n / sr - t) / release, 0.0, 1.0)  # release to 0
        chunks.append(tone * env / amps.sum())
    wave = np.concatenate(chunks) if chunks else np.zeros(0)
    return wave.astype(np.float32)


# --- end synth


def dominant_frequency(wave, sr: int = SAMPLE_RATE, pad: int = 8) -> float:
    """Frequency (Hz) of the largest peak of |FFT| of a Hann-windowed, zero-padded wave.

    Resolution: sr / (pad * len(wave)) Hz, refined by a parabola through the peak bin
    and its neighbours.
    """
    x = np.asarray(wave, np.float64)
    sr = _check_rate(sr)
    if x.ndim != 1 or x.size < 8:
        raise ValueError(
            f"wave: expected a 1-D waveform of at least 8 samples, got shape {x.shape}"
        )
    n = pad * x.size
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    k = int(np.argmax(mag[1:])) + 1
    if 1 <= k < len(mag) - 1:
        a, b, c = np.log(mag[k - 1 : k + 2] + 1e-300)
        k = k + 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else k
    return float(k * sr / n)


def spectrogram(wave, sr: int = SAMPLE_RATE, n_fft: int = 1024, hop: int = 256):
    """Magnitude spectrogram in dB: (freqs (F,), times (T,), db (F, T)), Hann window."""
    x = np.asarray(wave, np.float64)
    sr = _check_rate(sr)
    n_fft, hop = check_int(n_fft, "n_fft"), check_int(hop, "hop")
    if x.ndim != 1 or x.size < n_fft:
        raise ValueError(
            f"wave: expected a 1-D waveform of at least n_fft = {n_fft} samples, got shape {x.shape}"
        )
    starts = np.arange(0, x.size - n_fft + 1, hop)
    frames = x[starts[:, None] + np.arange(n_fft)] * np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames, axis=1)).T
    db = 20 * np.log10(mag / max(mag.max(), 1e-12) + 1e-6)
    return np.fft.rfftfreq(n_fft, 1 / sr), (starts + n_fft / 2) / sr, db


# --- mu-law (shown in the book)
def mu_law_encode(x, mu: int = 255) -> np.ndarray:
    """Samples in [-1, 1] -> ints in [0, mu]: F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu),
    then F in [-1, 1] is cut into mu + 1 equal bins (rounded to the nearest)."""
    x = np.asarray(x, np.float64)
    mu = check_int(mu, "mu")
    if x.size and (
        np.min(x) < -1 - 1e-9 or np.max(x) > 1 + 1e-9 or not np.all(np.isfinite(x))
    ):
        raise ValueError(
            f"x: expected samples in [-1, 1], got [{np.min(x):.3g}, {np.max(x):.3g}]"
        )
    f = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    return np.rint((f + 1) / 2 * mu).astype(np.int64)


def mu_law_decode(q, mu: int = 255) -> np.ndarray:
    """Inverse of :func:`mu_law_encode`: x = sign(F) ((1 + mu)^|F| - 1) / mu, F = 2q/mu - 1."""
    q = np.asarray(q)
    mu = check_int(mu, "mu")
    if not np.issubdtype(q.dtype, np.integer) or (
        q.size and (q.min() < 0 or q.max() > mu)
    ):
        raise ValueError(f"q: expected integer codes in [0, {mu}], got dtype {q.dtype}")
    f = 2 * q.astype(np.float64) / mu - 1
    return np.sign(f) * np.expm1(np.abs(f) * np.log1p(mu)) / mu


# --- end mu-law


# ----- judging melodies without ears ----------------------------------------------------------
def _pitches(notes) -> np.ndarray:
    return np.asarray([p for p, _ in check_notes(notes) if p != REST], np.int64)


def key_fraction(notes) -> tuple[float, int]:
    """(fraction, tonic): the largest share of (non-rest) notes that fall in one major
    scale, over the 12 possible tonics, and that tonic's pitch class (0 = C).

    A melody in a major key scores 1; notes drawn uniformly at random score about
    7/12 (a bit more, since the best of 12 keys is taken).
    """
    p = _pitches(notes)
    if p.size == 0:
        raise ValueError("notes: expected at least one pitched note")
    best = max(range(12), key=lambda t: (np.isin((p - t) % 12, MAJOR_SCALE).mean(), -t))
    return float(np.isin((p - best) % 12, MAJOR_SCALE).mean()), best


def interval_histogram(melodies, max_interval: int = 12) -> np.ndarray:
    """Normalised histogram of the steps between consecutive pitches (semitones),
    clipped to [-max_interval, max_interval]: shape (2 * max_interval + 1,), index
    ``i`` is the interval ``i - max_interval``. Rests are skipped."""
    counts = np.zeros(2 * max_interval + 1)
    for notes in melodies:
        steps = np.clip(np.diff(_pitches(notes)), -max_interval, max_interval)
        np.add.at(counts, steps + max_interval, 1)
    if counts.sum() == 0:
        raise ValueError(
            "melodies: expected at least one melody with two pitched notes"
        )
    return counts / counts.sum()


def total_variation(p, q) -> float:
    """Total variation distance 0.5 * sum |p - q| of two histograms (0 = equal, 1 = disjoint)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ValueError(
            f"p, q: expected histograms of the same shape, got {p.shape} and {q.shape}"
        )
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def _note_ngrams(notes, n: int) -> list[tuple]:
    notes = check_notes(notes)
    return [tuple(notes[i : i + n]) for i in range(len(notes) - n + 1)]


def copy_rate(generated, corpus, n: int = 8) -> float:
    """Fraction of the note n-grams (pitch and duration) of the ``generated`` melodies
    that occur somewhere in the ``corpus`` melodies. Near 1 for large n: copied."""
    n = check_int(n, "n")
    ref = {g for m in corpus for g in _note_ngrams(m, n)}
    grams = [g for m in generated for g in _note_ngrams(m, n)]
    if not grams:
        raise ValueError(f"generated: expected melodies with at least n = {n} notes")
    return sum(g in ref for g in grams) / len(grams)


def melody_report(melodies, corpus, n: int = 8) -> dict:
    """The metrics above for a list of melodies, against the training ``corpus``:
    mean key fraction, interval-histogram distance, copy rate, mean length (notes)."""
    melodies = [m for m in melodies if len(_pitches(m)) >= 2]
    if not melodies:
        raise ValueError(
            "melodies: expected at least one melody with two pitched notes"
        )
    long_enough = [m for m in melodies if len(m) >= n]
    return {
        "melodies": len(melodies),
        "mean notes": float(np.mean([len(m) for m in melodies])),
        "in key": float(np.mean([key_fraction(m)[0] for m in melodies])),
        "interval TV": total_variation(
            interval_histogram(melodies), interval_histogram(corpus)
        ),
        f"copied {n}-grams": copy_rate(long_enough, corpus, n)
        if long_enough
        else float("nan"),
    }


# ----- plots ------------------------------------------------------------------------------
def plot_piano_roll(notes, ax=None, title: str = "", color: str = "C0"):
    """Draw notes as bars: x = time (quarter notes), y = pitch. Returns the axes."""
    import matplotlib.pyplot as plt

    notes = check_notes(notes)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    t = 0
    for p, d in notes:
        if p != REST:
            ax.barh(
                p,
                d / 4,
                left=t / 4,
                height=0.8,
                color=color,
                edgecolor="k",
                linewidth=0.5,
            )
        t += d
    pitches = [p for p, _ in notes if p != REST]
    if pitches:
        ticks = range(min(pitches), max(pitches) + 1)
        ax.set_yticks(list(ticks))
        ax.set_yticklabels([note_name(p) for p in ticks], fontsize=7)
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("pitch")
    ax.set_title(title)
    return ax
