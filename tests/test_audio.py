"""aigc_course.audio: notes, tokens, the synthesiser, mu-law and the melody metrics.

References are independent: hand-computed values, naive loops, known frequencies.
"""

import numpy as np
import pytest

from aigc_course import audio


# ----- notes and the corpus ---------------------------------------------------------------
def test_note_names_round_trip():
    assert audio.name_to_midi("C4") == 60 and audio.name_to_midi("A4") == 69
    assert audio.name_to_midi("Bb3") == 58 and audio.name_to_midi("F#5") == 78
    for p in range(0, 128):
        assert audio.name_to_midi(audio.note_name(p)) == p
    assert (
        audio.name_to_midi("rest") == audio.REST
        and audio.note_name(audio.REST) == "rest"
    )


def test_parse_and_transpose():
    notes = audio.parse_notes("C4:4 rest:2 E4:8")
    assert notes == [(60, 4), (audio.REST, 2), (64, 8)]
    assert audio.transpose(notes, 3) == [(63, 4), (audio.REST, 2), (67, 8)]
    assert audio.transpose(audio.transpose(notes, 5), -5) == notes


def test_corpus_melodies_are_in_c_major_and_transposed_to_12_keys():
    corpus = audio.melody_corpus()
    assert len(corpus) == 12 * len(audio.MELODIES)
    for item in corpus:
        frac, tonic = audio.key_fraction(item["notes"])
        assert frac == 1.0
        assert item["tonic"] == item["shift"] % 12
        # the key fraction is 1 for the true key (ties are possible, e.g. pentatonic tunes)
        pcs = {(p - item["tonic"]) % 12 for p, _ in item["notes"]}
        assert pcs <= set(audio.MAJOR_SCALE)
    shifts = sorted({c["shift"] for c in corpus})
    assert shifts == list(range(-5, 7))
    # every melody's bars add up: a whole number of quarter notes
    for name, text in audio.MELODIES.items():
        assert sum(d for _, d in audio.parse_notes(text)) % 4 == 0, name


# ----- tokens -----------------------------------------------------------------------------
def test_tokenizer_round_trip_over_the_corpus():
    tok = audio.NoteTokenizer()
    assert tok.vocab_size == 1 + 1 + (84 - 48 + 1) + len(audio.DURATIONS)
    for item in audio.melody_corpus():
        ids = tok.encode(item["notes"])
        assert ids[0] == tok.bos_id and len(ids) == 2 * len(item["notes"]) + 1
        assert tok.is_pitch(ids[1::2]).all() and tok.is_duration(ids[2::2]).all()
        notes, errors = tok.decode(ids, return_errors=True)
        assert notes == item["notes"] and errors == 0
    ids = tok.encode_corpus([m["notes"] for m in audio.melody_corpus(keys=2)])
    assert (ids == tok.bos_id).sum() == 2 * len(audio.MELODIES)


def test_decode_drops_tokens_that_break_the_grammar():
    tok = audio.NoteTokenizer()
    c4, e4 = tok.encode([(60, 4)])[1], tok.encode([(64, 4)])[1]
    q, h = tok.encode([(60, 4)])[2], tok.encode([(60, 8)])[2]
    ids = np.array([tok.bos_id, q, c4, e4, h, c4, q, tok.bos_id, e4, q])
    notes, errors = tok.decode(ids, return_errors=True)
    # stray duration (1) + pitch without duration (1); stops at the second BOS
    assert notes == [(64, 8), (60, 4)] and errors == 2
    assert tok.decode(np.array([c4]), return_errors=True) == ([], 1)


def test_tokenizer_value_errors():
    tok = audio.NoteTokenizer()
    with pytest.raises(ValueError, match="outside"):
        tok.encode([(100, 4)])
    with pytest.raises(ValueError, match="duration"):
        tok.encode([(60, 5)])
    with pytest.raises(ValueError, match="values in"):
        tok.decode(np.array([0, tok.vocab_size]))
    with pytest.raises(ValueError, match="1-D integer"):
        tok.decode(np.array([0.5]))
    with pytest.raises(ValueError):
        audio.NoteTokenizer(low=70, high=60)
    with pytest.raises(ValueError, match="pair"):
        audio.check_notes([60])
    with pytest.raises(ValueError, match="positive int duration"):
        audio.check_notes([(60, 0)])
    with pytest.raises(ValueError, match="C4"):
        audio.parse_notes("C4-4")
    with pytest.raises(ValueError, match="unknown"):
        audio.melody_corpus(["happy_birthday"])
    with pytest.raises(ValueError, match="keys"):
        audio.melody_corpus(keys=13)
    with pytest.raises(ValueError, match="semitones"):
        audio.transpose([(60, 4)], 1.5)


# ----- sound ------------------------------------------------------------------------------
def test_midi_to_hz():
    assert audio.midi_to_hz(69) == pytest.approx(440.0)
    assert audio.midi_to_hz(81) == pytest.approx(880.0)  # an octave doubles
    assert audio.midi_to_hz(57) == pytest.approx(220.0)
    assert audio.midi_to_hz(60) == pytest.approx(261.6256, abs=1e-4)  # middle C
    p = np.arange(40, 90)
    np.testing.assert_allclose(
        audio.midi_to_hz(p + 1) / audio.midi_to_hz(p), 2 ** (1 / 12)
    )


@pytest.mark.parametrize("pitch", [57, 60, 69, 76])
def test_synth_frequency_by_fft_peak(pitch):
    wave = audio.synthesize([(pitch, 8)], sr=16000, bpm=120)  # a half note: 1 s
    assert wave.dtype == np.float32 and len(wave) == 16000
    f = audio.dominant_frequency(wave, 16000)
    assert f == pytest.approx(audio.midi_to_hz(pitch), rel=2e-3)


def test_synth_envelope_no_clicks_and_bounded():
    notes = audio.parse_notes("C4:2 G4:2 rest:2 E5:4")
    wave = audio.synthesize(notes, sr=8000, bpm=120)
    assert len(wave) == int(round(10 * 0.125 * 8000))
    assert np.abs(wave).max() <= 1.0
    # every note starts and ends at 0 (no jump, no click): near each boundary the
    # waveform is tiny although inside the notes it is not
    bounds = np.cumsum([int(round(d * 0.125 * 8000)) for _, d in notes])[:-1]
    assert np.all(np.abs(wave[bounds]) < 1e-6)
    near = np.concatenate([np.arange(b - 3, b + 3) for b in bounds])
    assert np.abs(wave[near]).max() < 0.05 < np.abs(wave).max()
    assert np.all(wave[4000:6000] == 0)  # the rest


def test_dominant_frequency_of_a_pure_sine():
    sr = 16000
    t = np.arange(4000) / sr
    assert audio.dominant_frequency(
        np.sin(2 * np.pi * 1234.5 * t), sr
    ) == pytest.approx(1234.5, abs=1.0)
    with pytest.raises(ValueError):
        audio.dominant_frequency(np.zeros((2, 10)), sr)
    with pytest.raises(ValueError, match="sample rate"):
        audio.synthesize([(60, 4)], sr=0)


def test_spectrogram_peak_follows_the_note():
    sr = 8000
    wave = audio.synthesize([(60, 8), (72, 8)], sr=sr, harmonics=(1.0,))
    freqs, times, db = audio.spectrogram(wave, sr, n_fft=512, hop=128)
    assert db.shape == (len(freqs), len(times)) and db.max() == pytest.approx(
        0.0, abs=1e-4
    )
    first, second = db[:, times < 0.9], db[:, times > 1.1]
    assert freqs[np.argmax(first.mean(1))] == pytest.approx(261.6, abs=sr / 512)
    assert freqs[np.argmax(second.mean(1))] == pytest.approx(523.3, abs=sr / 512)
    with pytest.raises(ValueError, match="hop"):
        audio.spectrogram(wave, sr, hop=0)
    with pytest.raises(ValueError, match="n_fft"):
        audio.spectrogram(wave[:100], sr, n_fft=512)


def test_piano_roll_draws_one_bar_per_pitched_note():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notes = audio.parse_notes("C4:4 rest:4 E4:8 G4:2")
    ax = audio.plot_piano_roll(notes, title="t")
    bars = ax.patches
    assert len(bars) == 3
    assert [b.get_x() for b in bars] == [0.0, 2.0, 4.0]  # in quarter notes
    assert [b.get_width() for b in bars] == [1.0, 2.0, 0.5]
    plt.close(ax.figure)


def test_mu_law_round_trip_error_bound():
    mu = 255
    x = np.linspace(-1, 1, 20001)
    q = audio.mu_law_encode(x, mu)
    assert q.min() == 0 and q.max() == mu and q.dtype == np.int64
    y = audio.mu_law_decode(q, mu)
    # half a bin in the companded domain is 1/mu; mapped back to x this is at most
    # (|x| + 1/mu) ((1 + mu)^(1/mu) - 1)
    bound = (np.abs(x) + 1 / mu) * ((1 + mu) ** (1 / mu) - 1)
    assert np.all(np.abs(x - y) <= bound + 1e-12)
    # and the bound is not loose: the worst case uses a good part of it
    assert np.max(np.abs(x - y) / bound) > 0.9
    # small samples get small steps: finer resolution near 0 than uniform 8-bit
    assert np.abs(x - y)[np.abs(x) < 0.01].max() < 1 / 256
    np.testing.assert_array_equal(
        audio.mu_law_encode(audio.mu_law_decode(np.arange(256))), np.arange(256)
    )


def test_mu_law_matches_the_formula():
    x = np.array([-1.0, -0.5, 0.0, 0.1, 1.0])
    f = np.sign(x) * np.log(1 + 255 * np.abs(x)) / np.log(256)
    np.testing.assert_array_equal(
        audio.mu_law_encode(x), np.round((f + 1) * 127.5).astype(int)
    )
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        audio.mu_law_encode(np.array([1.5]))
    with pytest.raises(ValueError, match="codes"):
        audio.mu_law_decode(np.array([256]))


# ----- melody metrics ---------------------------------------------------------------------
def test_key_fraction():
    c_major = [(p, 4) for p in (60, 62, 64, 65, 67, 69, 71, 72)]
    assert audio.key_fraction(c_major) == (1.0, 0)
    assert audio.key_fraction(audio.transpose(c_major, 2)) == (1.0, 2)
    chromatic = [(p, 4) for p in range(60, 72)]
    assert audio.key_fraction(chromatic)[0] == pytest.approx(7 / 12)
    with pytest.raises(ValueError):
        audio.key_fraction([(audio.REST, 4)])


def test_interval_histogram_and_tv():
    h = audio.interval_histogram(
        [[(60, 4), (62, 4), (60, 4), (80, 4)]], max_interval=12
    )
    expect = np.zeros(25)
    expect[12 + 2] += 1
    expect[12 - 2] += 1
    expect[12 + 12] += 1  # +20 clipped to +12
    np.testing.assert_allclose(h, expect / 3)
    assert audio.total_variation(h, h) == 0.0
    a, b = np.array([1.0, 0, 0]), np.array([0, 0.5, 0.5])
    assert audio.total_variation(a, b) == 1.0
    with pytest.raises(ValueError):
        audio.total_variation(a, np.ones(4))


def test_copy_rate_against_a_naive_count():
    corpus = [audio.parse_notes(audio.MELODIES["twinkle"])]
    copied = corpus[0][5:20]
    assert audio.copy_rate([copied], corpus, n=4) == 1.0
    rng = np.random.default_rng(0)
    random = [(int(p), 4) for p in rng.integers(50, 80, 40)]
    mixed = copied + random
    grams = [tuple(mixed[i : i + 3]) for i in range(len(mixed) - 2)]
    ref = [tuple(corpus[0][i : i + 3]) for i in range(len(corpus[0]) - 2)]
    assert audio.copy_rate([mixed], corpus, n=3) == pytest.approx(
        np.mean([g in ref for g in grams])
    )
    with pytest.raises(ValueError):
        audio.copy_rate([copied[:2]], corpus, n=4)
    rep = audio.melody_report([copied], corpus, n=4)
    assert (
        rep["in key"] == 1.0 and rep["copied 4-grams"] == 1.0 and rep["melodies"] == 1
    )
