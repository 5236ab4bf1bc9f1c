"""Vocabulary of the synthetic pages: running prose, headings, author lines, table cells.

Words are drawn from a fixed scientific-looking vocabulary (function words six times as likely as content
words), so the word-mask cache of :mod:`.glyphs` stays small across pages.
"""

from __future__ import annotations

import numpy as np

__all__ = ["author_words", "cell_word", "number_token", "title_words", "words"]

_FUNCTION_WORDS = (
    "the of and in to a is was for with that by were as on from this be are at these which or an not we "
    "our between after than both all using also it their its has been have may can more most into when "
    "there such other each only under during"
).split()

_CONTENT_WORDS = (
    "analysis results protein expression cells patients study data model method significant increased "
    "decreased treatment clinical group groups levels response effect effects observed compared control "
    "samples sample gene genes cell tissue growth function activity time rate associated mean values "
    "value measured measurement experiments experimental performed shown figure table previous studies "
    "reported higher lower total number population risk factors factor disease diagnosis therapy dose "
    "concentration binding receptor signaling pathway mechanism regulation structure sequence region "
    "regions analysis variables variable correlation regression distribution estimated estimate error "
    "parameters parameter conditions condition temperature surface energy material materials particles "
    "network networks training performance accuracy image images detection feature features layer "
    "approach proposed framework algorithm system systems evaluation dataset datasets baseline standard "
    "deviation confidence interval statistical statistically differences difference observed strain "
    "mice animals human primary secondary outcome outcomes follow-up baseline cohort randomized trial "
    "participants age years months weeks days hours minutes methods approach calculated obtained used "
    "including identified determined described following independent specific positive negative "
    "relative absolute maximum minimum average high low large small early late different similar "
    "novel recent important potential possible associated related consistent further several various "
    "molecular cellular genetic environmental chemical physical biological mechanical thermal optical "
    "acid membrane domain complex enzyme inhibitor antibody infection immune inflammatory tumor cancer "
    "blood serum plasma brain liver kidney heart muscle bone skin water soil plant species strains "
    "frequency signal noise power voltage current density pressure flow velocity phase wave field "
    "indicated suggest suggests demonstrated revealed showed confirmed increased reduced enhanced "
    "induced mediated dependent independent selected collected analyzed evaluated assessed compared "
    "respectively however therefore moreover furthermore although whereas thus overall addition "
    "contrast particular general previously significantly approximately"
).split()

_TITLE_WORDS = (
    "Introduction Methods Results Discussion Conclusions Background Materials Analysis Statistical "
    "Study Design Patients Participants Data Collection Experimental Setup Procedures Model Evaluation "
    "Limitations Ethics Acknowledgments Funding Supplementary Characterization Synthesis Measurements "
    "Cell Culture Animals Imaging Sequencing Outcomes Procedure Population Sample Preparation Effect "
    "Expression Treatment Performance Comparison Overview Related Work Approach Training Validation"
).split()

_NAMES = (
    "Smith Wang Zhang Li Chen Liu Kim Lee Garcia Martin Müller Rossi Tanaka Silva Johnson Brown Lopez "
    "Nguyen Kumar Singh Ahmed Cohen Novak Petrov Andersen Dubois Costa Yamamoto Schmidt Fischer"
).split()

_VOCAB = _FUNCTION_WORDS + _CONTENT_WORDS
_VOCAB_P = np.array([6.0] * len(_FUNCTION_WORDS) + [1.0] * len(_CONTENT_WORDS))
_VOCAB_P /= _VOCAB_P.sum()
_VOCAB_CDF = np.cumsum(_VOCAB_P)


def words(rng: np.random.Generator, n: int) -> list[str]:
    """About ``n`` words of running scientific-looking prose, sentences capitalised and punctuated."""
    idx = np.searchsorted(_VOCAB_CDF, rng.random(n), side="right").clip(max=len(_VOCAB) - 1)
    sentence_len = rng.integers(8, 26, size=n // 8 + 2)
    extras = rng.random(n)
    out: list[str] = []
    start, s = 0, 0
    for i, k in enumerate(idx.tolist()):
        w = _VOCAB[k]
        if i == start:
            w = w.capitalize()
        r = extras[i]
        if i - start + 1 >= sentence_len[s]:
            w = w + "."
            start, s = i + 1, s + 1
        elif r < 0.06:
            w = w + ","
        elif r < 0.08:
            out.append(w)
            w = f"[{int(r * 10000) % 60 + 1}]"
        elif r < 0.095:
            w = f"{int(r * 100000) % 900 / 10:.1f}"
        elif r < 0.1:
            out.append(w)
            w = f"({_NAMES[int(r * 100000) % len(_NAMES)]} et al.,"
            out.append(w)
            w = f"{2000 + int(r * 1000000) % 24})"
        out.append(w)
    if out and not out[-1].endswith("."):
        out[-1] = out[-1].rstrip(",") + "."
    return out


def title_words(rng: np.random.Generator, n: int, numbered: bool) -> list[str]:
    """A short heading like ``2.1 Statistical Analysis``."""
    ws = [_TITLE_WORDS[i] for i in rng.integers(0, len(_TITLE_WORDS), size=n)]
    if rng.random() < 0.3 and n > 2:
        ws[1] = rng.choice(["of", "and", "for", "in"])
    if numbered:
        ws.insert(
            0,
            f"{rng.integers(1, 8)}." if rng.random() < 0.6 else f"{rng.integers(1, 8)}.{rng.integers(1, 6)}",
        )
    return ws


def author_words(rng: np.random.Generator, n: int) -> list[str]:
    """Author line tokens: ``A. Smith1, B. Wang2, ...``."""
    out = []
    for i in range(n):
        initial = chr(ord("A") + int(rng.integers(0, 26)))
        sep = "," if i < n - 1 else ""
        out += [f"{initial}.", f"{_NAMES[int(rng.integers(0, len(_NAMES)))]}{int(rng.integers(1, 5))}{sep}"]
    return out


def number_token(rng: np.random.Generator) -> str:
    """A table-cell number from a finite pool (keeps the word cache small)."""
    kind = rng.random()
    if kind < 0.45:
        return f"{rng.integers(0, 100)}.{rng.integers(0, 10)}"
    if kind < 0.7:
        return str(int(rng.integers(0, 1000)))
    if kind < 0.85:
        return f"0.{rng.integers(0, 100):02d}"
    if kind < 0.93:
        return f"{rng.integers(0, 100)}%"
    return "–"


def cell_word(rng: np.random.Generator) -> str:
    return _CONTENT_WORDS[int(rng.integers(0, len(_CONTENT_WORDS)))].capitalize()
