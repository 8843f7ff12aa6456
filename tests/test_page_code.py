"""tools/page_code.py: the networks and training steps on the lab pages are the package's code."""

import importlib.util
import textwrap
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "page_code", ROOT / "tools" / "page_code.py"
)
P = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P)

MODULE = '''"""A toy module of the package."""
import torch


def loss(x):
    """Mean of x."""
    return x.mean()  # the whole loss


class Base:
    def train_step(self, x):
        return loss(x)


class Model(Base):
    """The package's model."""

    def build(self):
        return 1

    @torch.no_grad()
    def sample(self, n):
        return n
'''


def toy_book(tmp_path: Path, cell: str) -> Path:
    (tmp_path / "aigc_course" / "torch").mkdir(parents=True)
    (tmp_path / "aigc_course" / "torch" / "toy.py").write_text(MODULE)
    (tmp_path / "notebooks" / "01_toy").mkdir(parents=True)
    page = tmp_path / "notebooks" / "01_toy" / "toy_lab.py"
    page.write_text(
        '# %% [markdown]\n# A lab.\n\n# %% tags=["torch"] mirrors="aigc_course.torch.toy"\n'
        + textwrap.dedent(cell)
    )
    return page


SAME = '''
import aigc_course.torch.toy as reference


def loss(x):
    """Mean of x."""
    return x.mean()  # the whole loss


class Model(reference.Model):
    """The page's own docstring: free."""

    def build(self):
        return 1

    def train_step(self, x):
        return loss(x)

    @torch.no_grad()
    def sample(self, n):
        return n
'''


def test_a_page_that_reads_as_the_package_passes(tmp_path):
    toy_book(tmp_path, SAME)
    assert P.run(tmp_path) == []
    assert P.cells(tmp_path) == [
        (tmp_path / "notebooks" / "01_toy" / "toy_lab.py", "aigc_course.torch.toy")
    ]


@pytest.mark.parametrize(
    "change, label",
    [
        (
            ("return x.mean()  # the whole loss", "return x.sum()  # the whole loss"),
            "loss differs",
        ),
        # a method's decorator counts
        (("    @torch.no_grad()\n", ""), "Model.sample differs"),
        (
            ("        return loss(x)", "        return 2 * loss(x)"),
            "Model.train_step differs",
        ),  # from Base
        (
            ("    def build(self):", "    def build(self):  # edited"),
            "Model.build differs",
        ),
    ],
)
def test_any_difference_is_reported_and_fix_copies_the_package(tmp_path, change, label):
    page = toy_book(tmp_path, SAME.replace(*change))
    found = P.run(tmp_path)
    assert len(found) == 1 and label in found[0] and "make sync" in found[0]
    assert P.run(tmp_path, fix=True) == []
    assert P.run(tmp_path) == []
    assert change[0].strip() in page.read_text()
    # the page's own lines stay
    assert "The page's own docstring: free." in page.read_text()


def test_a_definition_the_package_lacks_or_a_bad_module_is_reported(tmp_path):
    toy_book(tmp_path, SAME + "\n\ndef helper():\n    return 0\n")
    found = P.run(tmp_path)
    assert len(found) == 1 and "helper is not in the package" in found[0]
    assert (
        "Model.nothing is not in the package"
        in P.compare(
            "class Model(x.Model):\n    def nothing(self):\n        pass\n",
            P.Module(tmp_path / "aigc_course" / "torch" / "toy.py"),
            "here",
        )[0][0]
    )
    with pytest.raises(ValueError, match="not a module of the package"):
        P.module_file("aigc_course.torch.missing", tmp_path)
    with pytest.raises(ValueError, match="expected a module of the package"):
        P.module_file("os.path", tmp_path)


def test_the_gan_vae_autoregressive_and_diffusion_labs_show_their_networks_and_step():
    """Done criterion of the issue: each of these labs has, for both frameworks, cells that
    define its networks and its training step, and they read as the package's code."""
    mirrored = {}
    for path, module in P.cells(ROOT):
        mirrored.setdefault(path.name, set()).add(module)
    for lab, module in [
        ("gan_lab.py", "gan"),
        ("vae_lab.py", "vae"),
        ("ar_lab.py", "autoregressive"),
        ("diffusion_lab.py", "diffusion"),
    ]:
        assert mirrored.get(lab) == {
            f"aigc_course.torch.{module}",
            f"aigc_course.keras.{module}",
        }, lab
        nb = jupytext.read(next(ROOT.glob(f"notebooks/*/{lab}")))
        code = "\n".join(c.source for c in nb.cells if "mirrors" in c.metadata)
        assert code.count("def train_step(") == 2, lab  # one per framework
    assert P.run(ROOT) == []


def test_the_page_gan_trains_exactly_as_the_package_gan():
    """The page's cells, run: same parameters, and one training step gives the package's losses."""
    torch = pytest.importorskip("torch")
    from aigc_course.torch import MODELS, set_seed

    nb = jupytext.read(ROOT / "notebooks" / "03_gans" / "gan_lab.py")
    space = {"torch": torch}
    for cell in nb.cells:
        if cell.metadata.get("mirrors") == "aigc_course.torch.gan":
            exec(compile(cell.source, "gan_lab.py", "exec"), space)
    real = torch.rand(16, 28, 28)
    losses = []
    for make in (space["GAN"], MODELS["gan"]):
        set_seed(0)
        model = make()
        history = model.fit(real.numpy(), epochs=1, batch_size=16, verbose=0)
        losses.append(history.history["d_loss"][-1])
        assert model.count_params() == MODELS["gan"]().count_params()
    assert losses[0] == losses[1]
