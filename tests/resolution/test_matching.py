"""The Splink matcher against real Splink + DuckDB, on a small synthetic city.

The city: a few hundred enterprises, each known by three names (current, former, a variant), some
sharing a 字号 with an unrelated enterprise in another town (hard negatives), some with a branch
(分公司) that shares the parent's names, phone and address. Mentions are noisy copies: abbreviated,
homophone 字号, missing phone, different legal form, a former name.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pypinyin import lazy_pinyin

from entgraph.resolution.matching import (
    Candidate,
    MatchModel,
    MatchSettings,
    baseline,
    default_settings,
    prior_to_weight,
)

TOWNS = [
    "青阳街道", "梅岭街道", "西园街道", "罗山街道", "陈埭镇",
    "池店镇", "安海镇", "磁灶镇", "内坑镇", "东石镇",
]  # fmt: skip
ROADS = ["世纪大道", "长兴路", "泉安路", "新华路", "迎宾路", "工业路"]
FIRST = "恒鸿达华丰盛祥鑫源龙泰宏金永建万天中东晨海博正广联"
SECOND = "安兴利嘉凯瑞福泰宝辉美顺昌"
# one homophone per character (same toneless pinyin), the typical 字号 mix-up between departments
HOMOPHONE = {
    "恒": "衡", "鸿": "洪", "达": "大", "华": "化", "丰": "峰", "盛": "胜", "祥": "翔", "鑫": "新",
    "源": "元", "龙": "隆", "泰": "太", "宏": "红", "安": "按", "兴": "星", "利": "力", "嘉": "佳",
    "凯": "恺", "瑞": "锐", "福": "富", "宝": "保", "辉": "晖", "美": "每", "顺": "舜", "昌": "常",
}  # fmt: skip
INDUSTRIES = [("鞋业", "1952"), ("服装", "1810"), ("纺织", "1713"), ("陶瓷", "3071"), ("食品", "1499")]
FORMS = ["有限公司", "股份有限公司"]
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超"


def pinyin(s: str | None) -> str | None:
    return "".join(lazy_pinyin(s)) if s else None


def table(rows: list[dict]) -> pa.Table:
    """Rows to a Table; unlike ``from_pylist`` alone, keys missing from the first row are kept."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])


@dataclass
class Enterprise:
    eid: str
    trade: str
    industry: int
    form: str
    town: str
    phone: str
    rep: str
    address: str
    branch: str | None = None
    code_hint: str | None = None

    def row(
        self, uid: str, *, trade: str | None = None, industry: int | None = None, form: str | None = None
    ):
        trade = trade or self.trade
        word, code = INDUSTRIES[self.industry if industry is None else industry]
        form = form or self.form
        return {
            "unique_id": uid,
            "enterprise_id": self.eid,
            "name": f"晋江市{trade}{word}{form}",
            "name_core": f"{trade}{word}",
            "trade_name": trade,
            "trade_pinyin": pinyin(trade),
            "legal_form": form,
            "branch": self.branch,
            "region": "晋江",
            "legal_rep": self.rep,
            "phone": self.phone,
            "address": self.address,
            "town": self.town,
            "industry": code,
            "code_hint": self.code_hint,
        }

    def index_rows(self) -> list[dict]:
        """Current name, a former name (other industry words) and a variant without legal form."""
        current = self.row(f"{self.eid}#0")
        former = self.row(f"{self.eid}#1", industry=(self.industry + 1) % len(INDUSTRIES))
        variant = dict(self.row(f"{self.eid}#2"), name=f"晋江{current['name_core']}", legal_form=None)
        return [current, former, variant]


@dataclass
class City:
    enterprises: list[Enterprise]
    twins: list[tuple[Enterprise, Enterprise]]  # same 字号, different enterprise (other town/phone/rep)
    branches: list[tuple[Enterprise, Enterprise]]  # (parent, branch)

    def index(self) -> pa.Table:
        return table([r for e in self.enterprises for r in e.index_rows()])


def make_city(n: int = 240, seed: int = 7) -> City:
    rnd = random.Random(seed)
    trades = [a + b for a in FIRST for b in SECOND if a != b]
    rnd.shuffle(trades)

    def person() -> str:
        return rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN)

    def make(i: int, trade: str, town: str, **kw) -> Enterprise:
        return Enterprise(
            eid=f"E{i:04d}",
            trade=trade,
            industry=rnd.randrange(len(INDUSTRIES)),
            form=rnd.choice(FORMS),
            town=town,
            phone=f"0595{rnd.randrange(10**8):08d}",
            rep=person(),
            address=f"晋江市{town}{rnd.choice(ROADS)}{rnd.randrange(1, 999)}号",
            code_hint=f"913505{rnd.randrange(10**12):012d}" if rnd.random() < 0.3 else None,
            **kw,
        )

    enterprises = [make(i, trades[i], rnd.choice(TOWNS)) for i in range(n)]
    twins, branches = [], []
    for k, parent in enumerate(enterprises[:20]):  # a same-字号 enterprise elsewhere
        town = next(t for t in TOWNS if t != parent.town)
        twin = make(n + k, parent.trade, town)
        twin.industry = parent.industry
        twins.append((parent, twin))
    for k, parent in enumerate(enterprises[20:30]):  # a branch: same names, phone, address
        branch = Enterprise(**{**parent.__dict__, "eid": f"E{n + 100 + k:04d}", "branch": "泉州分公司"})
        branch.rep, branch.code_hint = person(), None
        branches.append((parent, branch))
    everyone = enterprises + [t for _, t in twins] + [b for _, b in branches]
    return City(everyone, twins, branches)


NOISE = ("abbreviated", "homophone", "no_phone", "legal_form", "former", "exact")


def mention(e: Enterprise, uid: str, kind: str, rnd: random.Random, *, labelled: bool = False) -> dict:
    if kind == "homophone":
        trade = e.trade[0] + HOMOPHONE[e.trade[1]]
        row = e.row(uid, trade=trade)
    elif kind == "legal_form":
        row = e.row(uid, form=next(f for f in FORMS if f != e.form))
    elif kind == "former":
        row = e.row(uid, industry=(e.industry + 1) % len(INDUSTRIES))
    else:
        row = e.row(uid)
    if kind == "abbreviated":
        row.update(name=row["name_core"], legal_form=None, region=None)
    if kind == "no_phone":
        row["phone"] = None
    # departments rarely fill everything in
    for col, p in (("address", 0.3), ("legal_rep", 0.2), ("industry", 0.3), ("town", 0.1)):
        if rnd.random() < p:
            row[col] = None
    if row["code_hint"] and rnd.random() < 0.5:  # a typo in the invalid code
        code = row["code_hint"]
        row["code_hint"] = code[:-2] + code[-1] + code[-2]
    if not labelled:
        row["enterprise_id"] = None
    return row


def labelled_mentions(city: City, seed: int = 11) -> pa.Table:
    rnd = random.Random(seed)
    rows = [
        mention(e, f"L{e.eid}-{j}", rnd.choice(NOISE), rnd, labelled=True)
        for e in city.enterprises
        for j in range(3)
    ]
    return table(rows)


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()


@pytest.fixture(scope="module")
def model(city: City) -> Iterator[MatchModel]:
    m = MatchModel(threads=2, memory_limit="1GB")
    m.train(labelled_mentions(city))
    yield m
    m.close()


@pytest.fixture(scope="module")
def noisy(city: City) -> tuple[pa.Table, dict[str, str]]:
    """One mention of every noise kind for 60 ordinary enterprises; truth by mention id."""
    rnd = random.Random(5)
    rows = [mention(e, f"M{e.eid}-{kind}", kind, rnd) for e in city.enterprises[30:90] for kind in NOISE]
    truth = {r["unique_id"]: r["unique_id"][1:6] for r in rows}
    return table(rows), truth


def by_pair(candidates: list[Candidate]) -> dict[tuple[str, str], Candidate]:
    return {(c.mention_id, c.enterprise_id): c for c in candidates}


def best(candidates: list[Candidate]) -> dict[str, Candidate]:
    top: dict[str, Candidate] = {}
    for c in candidates:
        if c.mention_id not in top or c.match_weight > top[c.mention_id].match_weight:
            top[c.mention_id] = c
    return top


def test_noisy_copies_find_their_enterprise(model: MatchModel, city: City, noisy) -> None:
    left, truth = noisy
    candidates = model.score(left, city.index())
    top = best(candidates)
    assert set(top) == set(truth), "every noisy copy is blocked with at least its own enterprise"
    wrong = {m: c.enterprise_id for m, c in top.items() if c.enterprise_id != truth[m]}
    assert not wrong
    assert all(c.match_probability > 0.9 for c in top.values())
    # one candidate per (mention, enterprise), although enterprises have three index rows
    assert len(by_pair(candidates)) == len(candidates)


def test_true_match_outscores_same_trade_name_elsewhere(model: MatchModel, city: City) -> None:
    rnd = random.Random(3)
    rows = [mention(parent, f"T{parent.eid}-{kind}", kind, rnd) for parent, _ in city.twins for kind in NOISE]
    scores = by_pair(model.score(table(rows), city.index()))
    for row in rows:
        parent, twin = next((p, t) for p, t in city.twins if row["unique_id"].startswith(f"T{p.eid}"))
        true = scores[(row["unique_id"], parent.eid)]
        decoy = scores.get((row["unique_id"], twin.eid))
        assert decoy is not None, "the twin shares the 字号, so blocking proposes it"
        assert true.match_weight > decoy.match_weight + 5, row["unique_id"]
        assert decoy.match_probability < 0.5


def test_branch_is_not_its_parent(model: MatchModel, city: City) -> None:
    rnd = random.Random(4)
    # the hardest case: the branch shares the parent's names, phone and address
    rows = [mention(branch, f"B{branch.eid}", "exact", rnd) for _, branch in city.branches]
    scores = by_pair(model.score(table(rows), city.index()))
    for (parent, branch), row in zip(city.branches, rows, strict=True):
        against_parent = scores[(row["unique_id"], parent.eid)]
        against_branch = scores[(row["unique_id"], branch.eid)]
        assert against_parent.match_probability < 0.01
        assert against_branch.match_probability > 0.99
        assert ("branch", "Branch marker differs") in [(n, lvl) for n, lvl, _ in against_parent.explanation]


def test_parent_mention_is_not_its_branch(model: MatchModel, city: City) -> None:
    rnd = random.Random(6)
    rows = [mention(parent, f"P{parent.eid}", "exact", rnd) for parent, _ in city.branches]
    scores = by_pair(model.score(table(rows), city.index()))
    for (parent, branch), row in zip(city.branches, rows, strict=True):
        assert scores[(row["unique_id"], parent.eid)].match_probability > 0.99
        assert scores[(row["unique_id"], branch.eid)].match_probability < 0.01


def test_training_is_deterministic(city: City) -> None:
    labelled = labelled_mentions(city)
    # fewer u pairs than the ~330k possible, so u really comes from a sample
    settings = replace(default_settings(), u_max_pairs=50_000)
    with MatchModel(settings) as a, MatchModel(settings) as b:
        a.train(labelled)
        b.train(labelled)
        assert a.to_json() == b.to_json()
        # and it is the seed that decides the sample, not chance
        b.train(labelled, seed=1)
        assert a.to_json() != b.to_json()


def test_json_round_trip_scores_identically(model: MatchModel, city: City, noisy) -> None:
    left, _ = noisy
    saved = model.to_json()
    assert json.loads(saved)["splink"]["probability_two_random_records_match"] > 0
    with MatchModel.from_json(saved) as restored:
        assert restored.to_json() == saved
        assert restored.score(left, city.index()) == model.score(left, city.index())
        again = restored.score(left, city.index())
    first = model.score(left, city.index())
    assert [c.explanation for c in again] == [c.explanation for c in first]


def test_explanation_adds_up_to_the_match_weight(model: MatchModel, city: City, noisy) -> None:
    left, _ = noisy
    candidates = model.score(left, city.index())
    assert candidates
    prior = json.loads(model.to_json())["splink"]["probability_two_random_records_match"]
    for c in candidates:
        assert c.explanation[0][0] == "prior"
        assert c.explanation[0][2] == pytest.approx(prior_to_weight(prior))
        assert math.fsum(w for _, _, w in c.explanation) == pytest.approx(c.match_weight, abs=1e-6)
        assert 0.0 <= c.match_probability <= 1.0
    # term-frequency adjustments are shown where they apply: on an exact 字号 match
    tf_rows = [c for c in candidates if any(n == "trade_name (tf)" for n, _, _ in c.explanation)]
    assert tf_rows
    assert all(
        ("trade_name", "Same trade name") in [(n, lvl) for n, lvl, _ in c.explanation] for c in tf_rows
    )


def test_common_trade_name_counts_for_less(model: MatchModel, city: City) -> None:
    """Two enterprises share each twin 字号: an exact 字号 match there is weaker than a unique one."""
    parent, _ = city.twins[0]
    unique = city.enterprises[50]
    rows = [
        {"unique_id": uid, "trade_name": e.trade, "trade_pinyin": pinyin(e.trade), "name_core": core}
        for uid, e in (("common", parent), ("unique", unique))
        for core in [e.row("x")["name_core"]]
    ]
    scores = by_pair(model.score(table(rows), city.index()))

    def tf(c: Candidate) -> float:
        return next(w for n, _, w in c.explanation if n == "trade_name (tf)")

    assert tf(scores[("common", parent.eid)]) < tf(scores[("unique", unique.eid)])


def test_code_hint_is_never_decisive_alone(model: MatchModel, city: City) -> None:
    e = next(e for e in city.enterprises if e.code_hint)
    typo = e.code_hint[:-2] + e.code_hint[-1] + e.code_hint[-2]
    rows = [{"unique_id": "code-only", "code_hint": e.code_hint}, {"unique_id": "typo", "code_hint": typo}]
    rows.append(dict(mention(e, "code+name", "abbreviated", random.Random(1)), code_hint=e.code_hint))
    scores = by_pair(model.score(table(rows), city.index(), threshold_match_weight=-50))
    assert scores[("code-only", e.eid)].match_probability <= 0.5 + 1e-9
    assert ("typo", e.eid) not in scores  # 1 edit away: no blocking rule joins it alone
    assert scores[("code+name", e.eid)].match_probability > 0.99


def test_empty_left_returns_nothing(model: MatchModel, city: City) -> None:
    empty = city.index().slice(0, 0)
    assert model.score(empty, city.index()) == []
    assert model.score({"unique_id": []}, city.index()) == []


def test_columns_may_be_missing_and_inputs_need_not_be_tables(model: MatchModel, city: City) -> None:
    """Absent feature columns read as NULL; anything pyarrow.table() accepts is an input."""
    e = city.enterprises[40]
    columns = {"unique_id": ["x"], "name_core": [e.row("x")["name_core"]], "trade_name": [e.trade]}
    (top,) = [c for c in model.score(columns, city.index()) if c.match_probability > 0.5]
    assert top.enterprise_id == e.eid


def test_mention_without_blocking_hit_has_no_candidate(model: MatchModel, city: City) -> None:
    row = {
        "unique_id": "nowhere",
        "name": "厦门市无名氏科技有限公司",
        "name_core": "无名氏科技",
        "trade_name": "无名氏",
        "trade_pinyin": "wumingshi",
        "phone": "13900000000",
        "legal_rep": "欧阳无名",
        "town": "鼓浪屿街道",
    }
    assert model.score(table([row]), city.index()) == []


def test_threshold_drops_weak_pairs(model: MatchModel, city: City, noisy) -> None:
    left, _ = noisy
    everything = model.score(left, city.index())
    strong = model.score(left, city.index(), threshold_match_weight=0.0)
    assert strong == [c for c in everything if c.match_weight >= 0.0]
    assert len(strong) < len(everything)
    assert model.last_score_stats is not None
    assert model.last_score_stats.pairs_scored >= len(strong)


def test_blocking_pairs_grow_linearly(city: City) -> None:
    """Doubling both sides should roughly double the candidate pairs (quadratic would be x4)."""
    model = MatchModel()
    small, large = make_city(150, seed=21), make_city(300, seed=21)

    def pairs(c: City) -> int:
        mentions = labelled_mentions(c)
        return model.count_pairs(mentions, c.index())[-1].cumulative

    ratio = pairs(large) / pairs(small)
    model.close()
    assert 1.5 < ratio < 3.0


def test_untrained_model_refuses_to_score(city: City) -> None:
    with MatchModel() as m, pytest.raises(RuntimeError, match="not trained"):
        m.score(city.index(), city.index())


def test_training_needs_two_rows(city: City) -> None:
    with MatchModel() as m, pytest.raises(ValueError, match="nothing to train on"):
        m.train(city.index().slice(0, 1))
    with MatchModel() as m, pytest.raises(ValueError, match="nothing to train on"):
        m.train(None)


def test_cold_start_trains_without_a_single_labelled_pair(city: City, noisy) -> None:
    """A new city: one registered name per enterprise, every other feed code-less. u by sampling,
    the prior from deterministic rules, m by EM from the priors: no label is needed, and what
    links at the link band is right."""
    left, truth = noisy
    one_each = city.index().filter(pc.ends_with(city.index()["unique_id"], "#0"))
    with MatchModel(threads=2, memory_limit="1GB") as m:
        report = m.train(None, enterprises=one_each, unlabelled=left)
        assert report.labelled_pairs == 0
        assert report.m_sources == ["priors", "em"]
        # EM blocked on the phone estimates the name levels; a session EM cannot run is skipped
        assert "phone" in report.em_sessions
        assert report.prior_source.startswith("deterministic rules")
        # a mention names one of the enterprises: the prior is about 1 / enterprises
        assert 0.2 / one_each.num_rows < report.prior < 1.0 / one_each.num_rows
        top = best(m.score(left, one_each))
        linked = {mid: c for mid, c in top.items() if c.match_probability >= 0.95}
        right = [mid for mid, c in linked.items() if c.enterprise_id == truth[mid]]
        assert len(right) >= 0.99 * len(linked)
        assert len(linked) >= 0.6 * len(truth)
        restored = MatchModel.from_json(m.to_json())
        assert restored.training == report
        restored.close()


def test_baseline_runs_through_the_same_path(city: City, noisy) -> None:
    left, truth = noisy
    left = left.slice(0, 120)  # its blocking (first two characters: 晋江 ...) is quadratic
    raw = left.append_column("raw_name", left["name"])
    index = city.index()
    index = index.append_column("raw_name", index["name"])
    labelled = labelled_mentions(city)
    labelled = labelled.append_column("raw_name", labelled["name"])
    with baseline() as b:
        assert b.settings.name == "baseline"
        b.train(labelled)
        candidates = b.score(raw, index)
        assert candidates
        for c in candidates:
            assert math.fsum(w for _, _, w in c.explanation) == pytest.approx(c.match_weight, abs=1e-6)
        restored = MatchModel.from_json(b.to_json())
        assert restored.score(raw, index) == candidates
        restored.close()
    assert set(best(candidates)) <= set(truth)
    assert default_settings().name == "entgraph"


def test_a_large_city_trains_on_a_sample(city: City, noisy) -> None:
    """Training reads at most max_training_rows (whole enterprises with their labels), so its cost
    stops growing with the city; λ is still estimated on every row, and the model still works."""
    left, truth = noisy
    settings = replace(default_settings(), max_training_rows=400)
    with MatchModel(settings, threads=2, memory_limit="1GB") as m:
        report = m.train(labelled_mentions(city), enterprises=city.index(), unlabelled=left)
        assert 0.2 < report.sample < 0.5
        assert report.rows <= 500
        top = best(m.score(left, city.index()))
        right = [m for m, c in top.items() if c.enterprise_id == truth[m] and c.match_probability >= 0.95]
        assert len(right) >= 0.8 * len(truth)


def test_a_blocking_key_too_many_enterprises_share_blocks_nothing() -> None:
    """A 字号 naming thousands of enterprises (a Zipf vocabulary) would make pairs grow with the
    square of the city: past max_block_rows the derived 字号 key blocks nothing; the exact core still
    does."""
    right = table(
        [
            {"unique_id": f"E{k}#0", "enterprise_id": f"E{k}", "trade_name": "恒达", "name_core": core}
            for k, core in enumerate(["恒达鞋业", "恒达鞋业", "恒达鞋材"])
        ]
    )
    # 鞋服 for 鞋业: another core, the same 字号 and first industry character
    left = table([{"unique_id": "m", "trade_name": "恒达", "name_core": "恒达鞋服"}])

    def pairs(settings: MatchSettings) -> dict[str, int]:
        with MatchModel(settings) as m:
            return {c.rule: c.marginal for c in m.count_pairs(left, right)}

    usual = pairs(default_settings())
    capped = pairs(replace(default_settings(), max_block_rows=2))
    trade = next(rule for rule in usual if "block_trade" in rule)
    assert usual[trade] == 3 and capped[trade] == 0
    exact = table([{"unique_id": "m", "trade_name": "恒达", "name_core": "恒达鞋业"}])
    with MatchModel(replace(default_settings(), max_block_rows=2)) as m:
        assert sum(c.marginal for c in m.count_pairs(exact, right)) == 2  # the exact core still blocks
