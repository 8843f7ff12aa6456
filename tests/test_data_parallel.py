"""Data parallelism: the torchrun (DDP) demo with 2 CPU processes, and Keras's MirroredStrategy.

The torch tests launch ``torchrun`` for real (2 processes, "gloo" backend) and
check, from the files the ranks save, that the two replicas end with identical
weights and that they took the same steps as one process with twice the batch.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra):
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        AIGC_COURSE_OFFLINE="1",
        PYTHONPATH=ROOT,
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra)
    return env


def _run(cmd, env, timeout=240):
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


# ----------------------------------------------------------------------------- PyTorch DDP
N, BATCH = 1024, 16


def test_torchrun_two_ranks_identical_and_equal_to_one_process(tmp_path):
    torch = pytest.importorskip("torch")
    from aigc_course.torch import data_parallel

    save = str(tmp_path / "rank{rank}.pt")
    out = _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "aigc_course.torch.data_parallel",
            "--examples",
            str(N),
            "--batch-size",
            str(BATCH),
            "--epochs",
            "1",
            "--backend",
            "gloo",
            "--save",
            save,
        ],
        _env(),
    )
    assert "[rank 0/2] backend gloo" in out and "[rank 1/2] backend gloo" in out
    assert "loss per rank:" in out
    ranks = [torch.load(save.format(rank=r), weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    # the replicas are bit-for-bit identical
    for name, w0 in ranks[0]["state_dict"].items():
        assert torch.equal(w0, ranks[1]["state_dict"][name]), name
    losses = ranks[0]["losses"].numpy()  # (steps, 2): each rank's own batch
    assert losses.shape == (N // (2 * BATCH), 2)
    # different shards, different losses
    assert not np.allclose(losses[:, 0], losses[:, 1])

    # one process (an in-memory process group of size 1) with the global batch 2 * BATCH
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only wait for each other
    rank, _, world, device, backend = data_parallel.setup("gloo")
    try:
        assert (rank, world, backend) == (0, 1, "gloo")
        single = data_parallel.train(
            rank, world, device, n=N, batch_size=2 * BATCH, epochs=1
        )
    finally:
        torch.distributed.destroy_process_group()
        torch.set_num_threads(threads)
    np.testing.assert_allclose(
        single["losses"][:, 0], losses.mean(axis=1), rtol=1e-5, atol=1e-6
    )
    for name, w in single["model"].state_dict().items():
        np.testing.assert_allclose(
            w.numpy(), ranks[0]["state_dict"][name].numpy(), atol=1e-5
        )
    assert single["losses"][-1, 0] < 0.7 * single["losses"][0, 0]  # it learns
    assert single["accuracy"] > 0.5  # chance is 1/8


def test_torch_data_parallel_rejects_bad_settings():
    pytest.importorskip("torch")
    from aigc_course.torch import data_parallel

    with pytest.raises(ValueError, match="batch_size"):
        data_parallel.check_config(1024, 0, 1, 0.1, 2)
    with pytest.raises(ValueError, match="too small"):
        data_parallel.check_config(100, 64, 1, 0.1, 2)
    with pytest.raises(ValueError, match="lr"):
        data_parallel.check_config(1024, 16, 1, -1.0, 2)
    with pytest.raises(ValueError, match="backend"):
        data_parallel.setup("mpi")


# ----------------------------------------------------------------------------- Keras / TF
@pytest.mark.keras
def test_mirrored_strategy_replicas_identical_and_equal_to_one_device(tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("MirroredStrategy needs the TensorFlow backend")
    save = tmp_path / "mirrored.npz"
    out = _run(
        [
            sys.executable,
            "-m",
            "aigc_course.keras.data_parallel",
            "--replicas",
            "2",
            "--examples",
            str(N),
            "--batch-size",
            str(BATCH),
            "--epochs",
            "2",
            "--compare",
            "--save",
            str(save),
        ],
        _env(KERAS_BACKEND="tensorflow"),
    )
    assert "MirroredStrategy: 2 replicas" in out
    assert "replica 0 gets 16 examples" in out and "replica 1 gets 16 examples" in out
    saved = np.load(save)
    n_weights = sum(k.startswith("replicas_") for k in saved.files)
    assert n_weights == 6  # 3 Dense layers: kernel and bias
    for i in range(n_weights):
        copies = saved[f"replicas_{i}"]
        assert copies.shape[0] == 2  # one copy per replica ...
        np.testing.assert_array_equal(copies[0], copies[1])  # ... identical
        np.testing.assert_allclose(copies[0], saved[f"single_{i}"], atol=1e-5)
    assert saved["loss"][-1] < saved["loss"][0]


@pytest.mark.keras
def test_keras_data_parallel_settings_and_backend_note(capsys):
    import keras

    from aigc_course.keras import data_parallel

    with pytest.raises(ValueError, match="replicas"):
        data_parallel.check_config(1024, 16, 1, 0.1, 0)
    with pytest.raises(ValueError, match="too small"):
        data_parallel.check_config(10, 16, 1, 0.1, 2)
    # the model mirrors the PyTorch demo's: 2 -> 64 -> 64 -> 8
    model = data_parallel.make_model(0)
    assert (
        sum(int(np.prod(v.shape)) for v in model.trainable_weights)
        == 2 * 64 + 64 + 64 * 64 + 64 + 64 * 8 + 8
    )
    if keras.backend.backend() != "tensorflow":
        assert data_parallel.main([]) == 0
        assert "keras.distribution.DataParallel" in capsys.readouterr().out
