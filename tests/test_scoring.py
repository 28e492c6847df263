"""Pure scoring pieces: fusion, BM25, tokenisation, synonyms, follow-up resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.index.lexical import BM25, Postings
from assistant.retrieve.fuse import best_sentence, minmax, rrf, weighted
from assistant.settings import DATA_DIR
from assistant.text.tokenize import SynonymTable
from tests.conftest import ANALYZER


def test_rrf_rewards_agreement_and_respects_weights() -> None:
    fused = dict(rrf([["a", "b", "c"], ["b", "a", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["a"] == fused["b"] > fused["c"] == fused["d"]
    heavy = rrf([["a", "b"], ["b", "a"]], k=60, weights=[1.0, 3.0])
    assert heavy[0][0] == "b"


def test_rrf_ties_break_by_key_so_results_are_stable() -> None:
    assert [k for k, _ in rrf([["z"], ["y"]])] == ["y", "z"]


def test_weighted_fusion_normalises_each_list() -> None:
    assert minmax({"a": 5.0, "b": 5.0}) == {"a": 1.0, "b": 1.0}
    fused = dict(weighted([{"a": 10.0, "b": 0.0}, {"a": 0.2, "b": 0.4}], [1.0, 1.0]))
    assert fused == {"a": 1.0, "b": 1.0}
    assert weighted([{}]) == []


def test_weighted_fusion_keeps_a_passage_one_side_puts_far_ahead() -> None:
    """BM25 finds the 15% passage far ahead of the rest and dense (flat similarities) misses it:
    reciprocal rank fusion buries it behind passages both sides rank middling; weighted does not."""
    lexical = {"fifteen": 172.0, "a": 76.0, "b": 74.0, "c": 70.0}
    dense = {"a": 0.889, "b": 0.888, "c": 0.887, "d": 0.880}
    ranking = [lexical, dense]
    assert rrf([sorted(m, key=lambda k: -m[k]) for m in ranking])[0][0] != "fifteen"
    assert weighted(ranking, [1.0, 0.75])[0][0] == "fifteen"


def test_a_passage_is_found_by_its_best_sentence_not_by_its_average() -> None:
    """A long passage on several things, one sentence of which says what is asked, scores by
    that sentence; fused with it, it overtakes a passage that is about the topic throughout
    but never says it."""
    asked = np.array([1.0, 0.0, 0.0])
    off = np.array([0.0, 1.0, 0.0])
    near = np.array([0.8, 0.6, 0.0])
    rows = {
        "mixed": np.vstack([off, off, asked, off]),  # its mean is far from the question
        "general": np.vstack([near, near]),
        "other": np.vstack([[0.6, 0.8, 0.0]]),
        "old width": np.ones((2, 4)),  # vectors of another embedder are not compared
        "none": np.zeros((0, 3)),
    }
    sides = best_sentence(rows, asked)
    assert sides == pytest.approx({"mixed": 1.0, "general": 0.8, "other": 0.6})
    lexical = {"mixed": 11.0, "general": 12.0, "other": 5.0}
    dense = {"mixed": 0.70, "general": 0.80, "other": 0.50}  # each passage's own vector
    assert weighted([lexical, dense], [1.0, 0.75])[0][0] == "general"
    assert weighted([lexical, dense, sides], [1.0, 0.75, 1.0])[0][0] == "mixed"


def test_a_passage_without_vectors_yet_is_not_buried_for_want_of_them() -> None:
    """Just uploaded, its vectors still being computed: BM25 finds the exact article, its
    neighbours (with vectors) are close to the question on the other two sides. Unknown there, it
    counts as well there as it does where it is known."""
    lexical = {"article 299": 20.0, "article 12": 9.0, "other": 2.0}
    dense = {"article 12": 0.9, "other": 0.5}
    sentence = {"article 12": 0.92, "other": 0.6}
    maps, weights = [lexical, dense, sentence], [1.0, 0.75, 1.0]
    assert weighted(maps, weights)[0][0] == "article 12"
    fused = dict(weighted(maps, weights, unknown={"article 299"}))
    assert fused["article 299"] == pytest.approx(2.75)
    assert max(fused, key=fused.__getitem__) == "article 299"
    # A passage known on every side is scored as before.
    assert fused["article 12"] == dict(weighted(maps, weights))["article 12"]


def test_bm25_prefers_rare_terms_and_short_documents() -> None:
    corpus = [
        ["土地", "出让", "合同"],
        ["土地", "规划"],
        ["土地", "带押过户", "二手房"],
        ["土地"] * 20 + ["带押过户"],
    ]
    index = BM25.from_tokens(corpus)
    top = index.top(["带押过户"], 4)
    assert [i for i, _ in top] == [2, 3]
    assert index.top(["不存在"], 3) == []
    assert index.idf("带押过户") > index.idf("土地")


def test_bm25_merged_from_segments_scores_as_one_index() -> None:
    """Postings built per document and saved apart merge into the same scores as one build: terms
    are named by a hash, so no process's numbering is needed to read a saved segment."""
    docs = [
        [["土地", "出让", "合同"], ["土地", "规划"]],
        [["带押过户", "二手房", "土地"]],
        [["土地"] * 5 + ["带押过户"], ["宅基地"]],
    ]
    whole = BM25.from_tokens([chunk for doc in docs for chunk in doc])
    saved = [Postings.of(doc).arrays() for doc in reversed(docs)]
    merged = BM25([Postings.from_arrays(a) for a in reversed(saved)])
    for query in (["带押过户"], ["土地", "规划"], ["宅基地", "二手房"], ["不存在"]):
        assert np.allclose(whole.scores(query)[0], merged.scores(query)[0])
        assert merged.top(query, 3) == whole.top(query, 3)
    assert merged.idf("不存在") == whole.idf("不存在") > merged.idf("土地")
    assert BM25([]).top(["土地"], 3) == []


@pytest.mark.parametrize("group", [1, 3, 1 << 18])
def test_bm25_merge_in_groups_matches_one_build(
    monkeypatch: pytest.MonkeyPatch, group: int
) -> None:
    """The column-major matrix filled a few parts at a time (to bound the merge's memory) holds
    the same postings, rows ascending within each term, whatever the group size."""
    from assistant.index import lexical

    rng = np.random.default_rng(7)
    vocab = [f"词{i}" for i in range(40)]
    docs = [
        [
            [vocab[j] for j in rng.integers(0, 40, rng.integers(0, 12))]
            for _ in range(rng.integers(1, 6))
        ]
        for _ in range(25)
    ]
    whole = BM25.from_tokens([chunk for doc in docs for chunk in doc])
    monkeypatch.setattr(lexical, "GROUP_ENTRIES", group)
    merged = BM25([Postings.of(doc) for doc in docs])
    assert np.array_equal(merged._colptr, whole._colptr)
    assert np.array_equal(merged._rows, whole._rows)
    assert np.array_equal(merged._tfs, whole._tfs)
    chunks = [chunk for doc in docs for chunk in doc]
    for t, h in enumerate(merged.hashes):
        term = next(w for w in vocab if lexical.term_hash(w) == h)
        expected = [(r, c.count(term)) for r, c in enumerate(chunks) if term in c]
        span = slice(merged._colptr[t], merged._colptr[t + 1])
        assert (
            list(zip(merged._rows[span].tolist(), merged._tfs[span].tolist(), strict=True))
            == expected
        )


def test_bm25_top_n_cuts_and_orders() -> None:
    corpus = [["a"] * i + ["b"] for i in range(1, 50)]
    top = BM25.from_tokens(corpus).top(["a"], 5)
    assert len(top) == 5
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)


def test_tokenize_keeps_numbers_with_units_and_domain_terms() -> None:
    tokens = ANALYZER.tokenize("配套设施比例提高至15%，项目用地90亩，投资3亿美元，办理带押过户")
    assert {"15%", "90亩", "3亿美元", "带押过户"} <= set(tokens)
    assert "的" not in ANALYZER.tokenize("土地的比例是多少")


def test_chinese_numbers_with_units_meet_their_arabic_spelling() -> None:
    law = ANALYZER.tokenize(
        "满二年未动工开发的，可以无偿收回；居住用地七十年；出让金百分之二十以下"
    )
    assert {"2年", "70年", "20%"} <= set(law)
    for asked in ("闲置满两年", "闲置满2年", "闲置满二年"):
        assert "2年" in ANALYZER.tokenize(asked)
    assert "2年" not in ANALYZER.tokenize("一二年级")  # digits in a row are not a number
    assert "120日" in ANALYZER.tokenize("一百二十日内")


def test_tokenize_normalises_full_width() -> None:
    assert "15%" in ANALYZER.tokenize("比例为１５％")


def test_synonyms_map_everyday_words_to_official_terms(tmp_path: Path) -> None:
    table = SynonymTable.load(DATA_DIR / "synonyms.tsv")
    assert "带押过户" in table.expand("房子贷款没还清能卖吗")
    assert table.expand("带押过户怎么办理") == [] or "带押过户" not in table.expand(
        "带押过户怎么办理"
    )
    custom = tmp_path / "syn.tsv"
    custom.write_text(
        "# comment\n老房子\t存量住房|二手房\n\nbad line without tab\n", encoding="utf-8"
    )
    assert SynonymTable.load(custom).expand("老房子怎么卖") == ["存量住房", "二手房"]
    assert SynonymTable.load(tmp_path / "missing.tsv").expand("x") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("二", 2),
        ("七十", 70),
        ("一百零五", 105),
        ("两千零二十", 2020),
        ("一千零十", 1010),
        ("零", 0),
    ],
)
def test_chinese_numerals_read_with_their_empty_places(text: str, value: int) -> None:
    from assistant.text.zh import cn_number

    assert cn_number(text) == value


def test_a_decimal_in_chinese_gives_no_false_figure() -> None:
    from assistant.text.tokenize import cn_number_tokens

    assert cn_number_tokens("一点五亩") == []
    assert cn_number_tokens("百分之二点五") == []
    assert cn_number_tokens("一百零五亩，百分之二十") == ["105亩", "20%"]
    assert cn_number_tokens("一二") == []


@pytest.mark.parametrize(
    ("figure", "text", "held"),
    [
        ("2年", "闲置满2年的", True),
        ("2年", "满二年未动工", True),  # in Chinese
        ("2年", "2022年印发", False),  # the tail of a year is not a figure
        ("90亩", "用地190亩", False),
        ("90亩", "用地1.90亩", False),
        ("1.5亩", "共1.5亩", True),
        ("2", "第20条", False),
        ("2", "2.5倍", False),
        ("2", "第2条", True),
        ("15%", "提高至15%", True),
    ],
)
def test_a_figure_is_held_only_as_a_whole_number(figure: str, text: str, held: bool) -> None:
    from assistant.text.tokenize import has_figure

    assert has_figure(figure, text) is held
