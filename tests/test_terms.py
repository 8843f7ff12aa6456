"""One Chinese term per concept: the glossary's (book/glossary.md).

* Wherever the book or a notebook glosses an English term of the glossary with Chinese in
  parentheses, "mode collapse (模式崩溃)", the gloss contains the glossary's term.
* Variants that name the same concept differently, or a different concept, are not used
  (the errata and the source map quote the articles, and are not checked).
* A few terms whose confusion the course once made are pinned: the glossary must keep
  them, and the text must use them for the right thing.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"
# pages that quote the articles or define terms
QUOTING = {"glossary.md", "errata.md", "source_map.md"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def glossary_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (.+?) \| (.+?) \| (.+) \|$", line)
        if m and m.group(1) not in ("English", "---"):
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def glossary() -> dict[str, str]:
    return {en: zh for en, zh, _ in glossary_rows()}


def english_names(en: str) -> list[str]:
    names = []
    for part in re.split(r";|/", en):
        part = re.sub(r"\(.*?\)", "", part).strip()
        if len(part) > 3:
            names.append(part)
    return names


def chinese_terms(zh: str) -> list[str]:
    return [t.strip() for t in re.split(r"[；;/（）()、]", zh) if CJK.search(t)]


def course_sources() -> dict[str, str]:
    files = list(ROOT.glob("notebooks/*/*.py")) + list(ROOT.glob("book/*.md"))
    return {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in files
        if p.name not in QUOTING
    }


def test_glossary_has_one_row_per_term():
    rows = glossary_rows()
    assert len(rows) > 150
    english = [en for en, _, _ in rows]
    assert len(english) == len(set(english)), [
        e for e in english if english.count(e) > 1
    ]


def test_glosses_use_the_glossary_term():
    """ "term (中文)" in the text: the Chinese is the glossary's."""
    patterns = []
    for en, zh, _ in glossary_rows():
        terms = chinese_terms(zh)
        for name in english_names(en):
            if terms:
                patterns.append((name, terms, zh))
    # longer names first: "multi-head attention"
    patterns.sort(key=lambda p: -len(p[0]))
    problems = []
    compiled = [
        (
            re.compile(
                r"(?<![\w-])\*{0,2}" + re.escape(name) + r"s?\*{0,2}s?\s*\(([^()]*)\)",
                re.I,
            ),
            name.lower(),
            terms,
            zh,
        )
        for name, terms, zh in patterns
    ]
    for path, text in course_sources().items():
        claimed, lower = [], text.lower()
        for pattern, name, terms, zh in compiled:
            if name not in lower:
                continue
            for m in pattern.finditer(text):
                if any(a <= m.start() < b for a, b in claimed):
                    continue
                claimed.append((m.start(), m.end()))
                gloss = m.group(1)
                if not CJK.search(gloss) or re.search(r"[\"“「]", gloss):
                    continue  # no Chinese, or a quotation
                if not any(t in gloss for t in terms):
                    problems.append(f"{path}: {m.group(0)!r}: the glossary says {zh}")
    assert not problems, "\n".join(problems)


# (glossary entry, its Chinese term, variants that must not be used in the text)
PINNED = [
    ("privacy accountant", "隐私核算", ["隐私会计"]),
    ("recurrent neural network (RNN)", "循环神经网络", ["递归神经网络"]),
    ("diffusion model", "扩散模型", []),
    ("denoising diffusion probabilistic model (DDPM)", "去噪扩散概率模型", []),
    ("earth mover's distance ($W_1$)", "推土机距离", []),
    ("clipping by value", "梯度值裁剪", ["按值裁剪", "数值裁剪"]),
    ("gradient clipping", "梯度裁剪", []),
    ("mode collapse", "模式崩溃", ["模式坍塌", "模式坍缩"]),
    ("posterior collapse", "后验坍塌", ["后验崩溃"]),
    ("reparameterization trick", "重参数化技巧", ["重参数技巧", "再参数化技巧"]),
    ("non-saturating loss", "非饱和损失", ["不饱和损失"]),
    ("AIGC, AI-generated content", "人工智能生成内容", ["AI生成内容"]),
    ("generative AI", "生成式人工智能", []),
    ("reinforcement learning", "强化学习", ["增强学习"]),
    ("discriminator", "判别器", ["鉴别器"]),
    ("discriminative model", "判别模型", []),
    ("data parallelism", "数据并行", []),
    ("model parallelism", "模型并行", []),
]


@pytest.mark.parametrize(
    "english, chinese, variants", PINNED, ids=[p[0] for p in PINNED]
)
def test_pinned_terms(english, chinese, variants):
    assert glossary().get(english) == chinese, (
        f"glossary: {english!r} should be {chinese!r}"
    )
    for path, text in course_sources().items():
        for variant in variants:
            assert variant not in text, (
                f"{path} uses {variant!r}; the glossary's term is {chinese!r}"
            )


def paragraphs(text: str) -> list[str]:
    return re.split(r"\n\s*#?\s*\n", text)


def test_earth_movers_distance_is_w1():
    """推土机距离 names W₁ (the WGAN's distance), never the 2-Wasserstein distance of FID."""
    for path, text in course_sources().items():
        for para in paragraphs(text):
            if "推土机距离" in para:
                assert re.search(r"W_1|W₁|earth mover", para), (
                    f"{path}: 推土机距离 without W_1: {para[:200]!r}"
                )


def test_ddpm_is_not_glossed_as_diffusion_model():
    """DDPM is 去噪扩散概率模型; 扩散模型 is the family."""
    for path, text in course_sources().items():
        assert not re.search(r"DDPM[,，]\s*扩散模型", text), path
        for m in re.finditer(
            r"denoising diffusion probabilistic models?\*{0,2}s?\s*\(([^()]*)\)",
            text,
            re.I,
        ):
            if CJK.search(m.group(1)):
                assert "去噪扩散概率模型" in m.group(1), f"{path}: {m.group(0)!r}"


def test_glossary_slips_stay_fixed():
    meaning = {en: m for en, _, m in glossary_rows()}
    assert (
        "∞-norm" in meaning["gradient clipping"]
        and "direction is kept" in meaning["gradient clipping"]
    )
    assert "entries (∞-norm)" not in meaning["gradient clipping"]
    assert "not ∞-norm" in meaning["clipping by value"]
    assert "t = 0" in meaning["classifier-free guidance"]
    assert "W_2" in meaning["earth mover's distance ($W_1$)"]
