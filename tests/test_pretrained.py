"""Published checkpoints and the weight file format (PyTorch side; the Keras side and the
cross-framework equality are in test_weights.py)."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course import checkpoint, pretrained, weightfile
from aigc_course.audio import NoteTokenizer
from aigc_course.text import CharTokenizer
from aigc_course.torch import MODELS
from aigc_course.torch import weights as TW

ROOT = Path(__file__).resolve().parents[1]
CARD = {
    "data": {"name": "mnist", "split": "train", "n_examples": 64, "source": "tests"},
    "recipe": "pytest",
    "seed": 0,
    "steps": 0,
    "wall_time_s": 0.0,
    "hardware": "CPU",
    "metrics": {},
}


def small_gan():
    torch.manual_seed(0)
    return MODELS["dcgan"](latent_dim=8, channels=8)


def publish(model, folder, name="dcgan", dataset="mnist", **kw):
    return pretrained.publish(model, name, dataset, CARD, folder=folder, **kw)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv(pretrained.ENV_DIR, raising=False)
    return tmp_path / "pretrained"


# ----- the PyTorch side of the mapping: the identity -----------------------------------------
def test_to_arrays_is_the_state_dict_without_step_counters():
    m = small_gan()
    arrays = TW.to_arrays(m)
    state = m.state_dict()
    assert set(arrays) == {k for k in state if not k.endswith("num_batches_tracked")}
    for k, a in arrays.items():
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, state[k].numpy())
    assert all(r["rule"] == "identity" for r in TW.mapping(m))


def test_from_arrays_copies_every_tensor_and_names_problems():
    a, b = small_gan(), MODELS["dcgan"](latent_dim=8, channels=8)
    with torch.no_grad():
        for t in a.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn(t.shape))
    TW.from_arrays(b, TW.to_arrays(a))
    for k, t in a.state_dict().items():
        assert torch.equal(t, b.state_dict()[k]), k
    arrays = TW.to_arrays(a)
    with pytest.raises(
        ValueError, match=r"missing 1 tensor\(s\): generator\.1\.running_var"
    ):
        TW.from_arrays(
            b, {k: v for k, v in arrays.items() if k != "generator.1.running_var"}
        )
    with pytest.raises(ValueError, match=r"unexpected 1 tensor\(s\): extra"):
        TW.from_arrays(b, {**arrays, "extra": np.zeros(1, np.float32)})
    with pytest.raises(
        ValueError, match=r"wrong shape: generator\.0\.weight: \(3, 8\) given"
    ):
        TW.from_arrays(
            b, {**arrays, "generator.0.weight": np.zeros((3, 8), np.float32)}
        )
    with pytest.raises(ValueError, match="model: expected a torch.nn.Module"):
        TW.from_arrays("not a model", arrays)


# ----- the file ------------------------------------------------------------------------------
def test_the_file_is_safetensors_with_the_configuration_in_its_header(tmp_path):
    m = small_gan()
    path = TW.save(m, tmp_path / "w.safetensors", metadata={"note": np.float32(1.5)})
    raw = path.read_bytes()
    # safetensors: header length, JSON header, raw bytes
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__")
    assert (
        meta["format"] == "aigc_course.weights"
        and meta["model"] == "DCGAN"
        and meta["key"] == "dcgan"
    )
    assert json.loads(meta["config"]) == {
        "latent_dim": 8,
        "lr": 2e-4,
        "beta_1": 0.5,
        "label_smoothing": 0.0,
        "channels": 8,
    }
    assert json.loads(meta["extra"]) == {"note": 1.5}
    assert set(header) == set(TW.to_arrays(m)) and all(
        v["dtype"] == "F32" for v in header.values()
    )
    arrays, parsed = weightfile.read(path)
    assert parsed["config"]["channels"] == 8
    assert checkpoint.read_record(path)["sha256"] == checkpoint.sha256_file(path)
    rebuilt = weightfile.build(parsed, "torch")
    TW.from_arrays(rebuilt, arrays)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    rebuilt.eval(), m.eval()
    with torch.no_grad():
        assert torch.equal(
            rebuilt.generator(torch.from_numpy(z)), m.generator(torch.from_numpy(z))
        )


def test_float16_cast_refuses_overflow_and_non_finite_weights():
    out = weightfile.cast(
        {"a": np.array([1.0, 2.0], np.float32), "i": np.array([3])}, "float16"
    )
    assert out["a"].dtype == np.float16 and out["i"].dtype == np.array([3]).dtype
    with pytest.raises(ValueError, match="too large for float16"):
        weightfile.cast({"a": np.array([1e6], np.float32)}, "float16")
    with pytest.raises(ValueError, match="non-finite"):
        weightfile.cast({"a": np.array([np.nan], np.float32)}, "float32")
    with pytest.raises(ValueError, match="dtype"):
        weightfile.cast({}, "bfloat16")


def test_a_changed_byte_is_caught_by_the_record(tmp_path):
    path = TW.save(small_gan(), tmp_path / "w.safetensors")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match=r"w\.safetensors is corrupt"):
        TW.load(MODELS["dcgan"](latent_dim=8, channels=8), path)


def test_build_allows_training_settings_only():
    meta = {
        "key": "gpt",
        "model": "GPT",
        "config": {
            "vocab_size": 5,
            "block_size": 8,
            "n_layer": 1,
            "n_head": 1,
            "n_embd": 8,
        },
    }
    assert weightfile.build(meta, "torch", lr=1e-2).lr == 1e-2
    with pytest.raises(ValueError, match="n_layer: these set the architecture"):
        weightfile.build(meta, "torch", n_layer=2)
    with pytest.raises(ValueError, match="framework"):
        weightfile.build(meta, "jax")


# ----- publish, index, card, load ----------------------------------------------------------------
def test_publish_then_load(folder):
    m = small_gan()
    entry = publish(m, folder)
    path = folder / "dcgan-mnist.safetensors"
    assert (
        entry["sha256"] == checkpoint.sha256_file(path)
        and entry["size"] == path.stat().st_size
    )
    index = json.loads((folder / "index.json").read_text())
    assert index["checkpoints"]["dcgan/mnist"]["sha256"] == entry["sha256"]
    assert pretrained.available(folder) == [("dcgan", "mnist")]
    card = pretrained.card("dcgan", "mnist", folder)
    for field in pretrained.CARD_FIELDS + (
        "config",
        "date",
        "sha256",
        "dtype",
        "model",
        "float16",
    ):
        assert field in card, field
    assert (
        card["config"]["channels"] == 8
        and card["dtype"] == "float16"
        and card["trained_with"] == "torch"
    )
    assert card["float16"]["max_abs_diff"] < 1e-2

    loaded = pretrained.load("dcgan", "mnist", folder=folder)
    assert isinstance(loaded, MODELS["dcgan"]) and not loaded.training
    for k, a in TW.to_arrays(m).items():  # the float16-rounded weights
        np.testing.assert_array_equal(
            TW.to_arrays(loaded)[k], a.astype(np.float16).astype(np.float32)
        )
    assert np.max(np.abs(loaded.sample(4, seed=0) - m.sample(4, seed=0))) < 1e-2
    assert pretrained.load("dcgan", "mnist", folder=folder, lr=1e-3).lr == 1e-3


def test_float32_publishing_is_exact(folder):
    m = small_gan()
    publish(m, folder, dtype="float32")
    loaded = pretrained.load("dcgan", "mnist", folder=folder)
    np.testing.assert_array_equal(loaded.sample(3, seed=1), m.sample(3, seed=1))
    assert "float16" not in pretrained.card("dcgan", "mnist", folder)


def test_a_corrupt_published_file_is_reported_and_never_loaded(folder, monkeypatch):
    publish(small_gan(), folder)
    path = folder / "dcgan-mnist.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10  # one bit of one weight
    path.write_bytes(bytes(raw))
    read = []
    monkeypatch.setattr(weightfile, "read", lambda *a, **k: read.append(a))
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"dcgan-mnist\.safetensors is corrupt.*not loaded",
    ):
        pretrained.load("dcgan", "mnist", folder=folder)
    assert read == []  # never opened
    path.write_bytes(bytes(raw[:-1]))  # truncated: the size differs too
    with pytest.raises(
        checkpoint.CheckpointError, match=r"dcgan-mnist\.safetensors is corrupt"
    ):
        pretrained.load("dcgan", "mnist", folder=folder)


def test_not_published_and_bad_names(folder):
    publish(small_gan(), folder)
    with pytest.raises(
        pretrained.NotPublishedError, match=r"'gan' on 'mnist'.*published: dcgan/mnist"
    ):
        pretrained.load("gan", "mnist", folder=folder)
    with pytest.raises(ValueError, match="name: expected a MODELS key"):
        pretrained.card("stylegan", "mnist", folder)
    with pytest.raises(ValueError, match="framework"):
        pretrained.load("dcgan", "mnist", framework="jax", folder=folder)


def test_publish_refuses_incomplete_cards_and_wrong_names(folder):
    m = small_gan()
    with pytest.raises(ValueError, match="card: missing metrics"):
        pretrained.publish(
            m,
            "dcgan",
            "mnist",
            {k: v for k, v in CARD.items() if k != "metrics"},
            folder=folder,
        )
    with pytest.raises(ValueError, match=r"card\['data'\]"):
        pretrained.publish(
            m, "dcgan", "mnist", {**CARD, "data": "mnist"}, folder=folder
        )
    with pytest.raises(ValueError, match="MODELS key 'dcgan', not 'gan'"):
        pretrained.publish(m, "gan", "mnist", CARD, folder=folder)
    with pytest.raises(ValueError, match="dataset"):
        pretrained.publish(m, "dcgan", "MNIST train", CARD, folder=folder)
    with pytest.raises(ValueError, match="needs its tokenizer"):
        pretrained.publish(
            MODELS["char_rnn"](5, embed_dim=4, hidden_size=4, num_layers=1),
            "char_rnn",
            "tang300",
            CARD,
            folder=folder,
        )
    assert not folder.exists()  # nothing was written


def test_publish_refuses_to_exceed_the_size_budget(folder, monkeypatch):
    monkeypatch.setattr(pretrained, "MAX_TOTAL_BYTES", 10_000)
    with pytest.raises(ValueError, match="over the 0 MiB budget"):
        publish(small_gan(), folder)


def test_text_models_carry_their_tokenizer(folder):
    tok = CharTokenizer("床前明月光，疑是地上霜。\n")
    rnn = MODELS["char_rnn"](tok.vocab_size, embed_dim=4, hidden_size=8, num_layers=1)
    pretrained.publish(rnn, "char_rnn", "tang300", CARD, folder=folder, tokenizer=tok)
    back = pretrained.tokenizer("char_rnn", "tang300", folder)
    assert back.chars == tok.chars and back.decode(tok.encode("明月")) == "明月"
    notes = NoteTokenizer()
    gpt = MODELS["gpt"](notes.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)
    pretrained.publish(gpt, "gpt", "melodies", CARD, folder=folder, tokenizer=notes)
    assert pretrained.tokenizer("gpt", "melodies", folder).tokens == notes.tokens
    assert pretrained.available(folder) == [
        ("char_rnn", "tang300"),
        ("gpt", "melodies"),
    ]
    loaded = pretrained.load("gpt", "melodies", folder=folder)
    ids = np.array([[0, 1, 2]])
    assert np.max(np.abs(loaded.logits(ids) - gpt.logits(ids))) < 1e-2


def test_use_only_reads_the_environment(monkeypatch):
    monkeypatch.delenv(pretrained.ENV_USE, raising=False)
    assert not pretrained.use_only()
    monkeypatch.setenv(pretrained.ENV_USE, "1")
    assert pretrained.use_only()
    monkeypatch.setenv(pretrained.ENV_USE, "0")
    assert not pretrained.use_only()


# ----- downloads (a file:// mirror stands in for the repository) ----------------------------------
@pytest.fixture
def mirror(folder, tmp_path, monkeypatch):
    publish(small_gan(), folder)
    monkeypatch.setattr(pretrained, "repository_folder", lambda: None)  # not a clone
    monkeypatch.setenv(pretrained.ENV_URL, folder.as_uri())
    monkeypatch.setenv("AIGC_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AIGC_COURSE_OFFLINE", raising=False)
    return folder


def test_download_verify_and_cache(mirror, capsys):
    m = pretrained.load("dcgan", "mnist")
    cached = pretrained.cache_folder() / "dcgan-mnist.safetensors"
    assert cached.is_file() and (pretrained.cache_folder() / "index.json").is_file()
    assert "downloading" in capsys.readouterr().out
    pretrained.load("dcgan", "mnist")  # from the cache: no download
    assert "downloading" not in capsys.readouterr().out
    raw = bytearray(cached.read_bytes())  # a damaged cached copy is fetched again
    raw[100] ^= 0xFF
    cached.write_bytes(bytes(raw))
    again = pretrained.load("dcgan", "mnist")
    assert "Downloading it again" in capsys.readouterr().out
    np.testing.assert_array_equal(again.sample(2, seed=0), m.sample(2, seed=0))


def test_a_mirror_serving_a_wrong_file_is_refused(mirror):
    src = mirror / "dcgan-mnist.safetensors"
    raw = bytearray(src.read_bytes())
    raw[-1] ^= 0xFF
    src.write_bytes(bytes(raw))
    with pytest.raises(
        checkpoint.CheckpointError, match=r"dcgan-mnist\.safetensors is corrupt"
    ):
        pretrained.load("dcgan", "mnist")


def test_offline_without_a_cache_says_why(mirror, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="AIGC_COURSE_OFFLINE=1"):
        pretrained.available()


def test_the_default_address_is_the_pinned_release(monkeypatch):
    monkeypatch.delenv(pretrained.ENV_URL, raising=False)
    assert (
        pretrained.base_url()
        == f"{pretrained.REPOSITORY}/raw/{pretrained.PINNED_REF}/pretrained"
    )
    assert pretrained.cache_folder().name == pretrained.PINNED_REF


def test_pin_agrees_with_the_notebooks_install_cell():
    yaml = pytest.importorskip("yaml")
    repo = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))[
        "repository"
    ]
    assert pretrained.REPOSITORY == repo["url"].rstrip("/")
    assert pretrained.PINNED_REF == repo["install_ref"], (
        "aigc_course.pretrained.PINNED_REF must name the release of _config.yml's "
        "repository.install_ref: bump both together"
    )


def test_the_package_version_is_the_release_of_pyproject():
    """Cards record aigc_course.__version__: it must be the version pyproject.toml releases."""
    import re

    import aigc_course

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert aigc_course.__version__ == re.search(
        r'^version\s*=\s*"([^"]+)"', text, re.M
    ).group(1)
    assert pretrained.PINNED_REF == f"v{aigc_course.__version__}"


# ----- what the repository publishes ---------------------------------------------------------
def test_the_repository_index_lists_verified_files_within_budget():
    folder = ROOT / "pretrained"
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert index["format"] == "aigc_course.pretrained"
    total = 0
    for key, e in index["checkpoints"].items():
        path = folder / e["file"]
        assert (
            key == f"{e['name']}/{e['dataset']}"
            and e["file"] == f"{e['name']}-{e['dataset']}.safetensors"
        )
        assert (
            checkpoint.sha256_file(path) == e["sha256"]
            and path.stat().st_size == e["size"]
        ), key
        card = e["card"]
        assert all(f in card for f in pretrained.CARD_FIELDS), key
        assert all(f in card["data"] for f in pretrained.DATA_FIELDS), key
        if card.get("smoke_test"):
            assert "smoke" in card["notes"].lower(), key
        total += e["size"]
    assert total <= pretrained.MAX_TOTAL_BYTES
    # nothing unlisted
    assert sum(p.stat().st_size for p in folder.glob("*.safetensors")) == total


def test_the_repository_checkpoints_load_offline_from_the_clone(monkeypatch):
    monkeypatch.delenv(pretrained.ENV_DIR, raising=False)
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    assert pretrained.repository_folder() == ROOT / "pretrained"
    for name, dataset in pretrained.available():
        model = pretrained.load(name, dataset)
        assert type(model).__name__ == pretrained.card(name, dataset)["model"]


def test_an_index_naming_a_path_outside_its_folder_is_refused(folder):
    publish(small_gan(), folder)
    index = json.loads((folder / "index.json").read_text())
    index["checkpoints"]["dcgan/mnist"]["file"] = "../../evil.safetensors"
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(
        checkpoint.CheckpointError, match="names the file '../../evil.safetensors'"
    ):
        pretrained.load("dcgan", "mnist", folder=folder)
