"""Probabilistic matching at city scale: the entgraph model against a plain Splink baseline.

    python -m bench.matching [--enterprises 50000] [--mentions 100000] [--threads 2]

A synthetic city is generated (deterministic): enterprises with Zipf-distributed 字号, common legal
representatives, shared agency phones, renamed enterprises (former names), branches; each known by
three name rows. Mentions are noisy department copies (abbreviated, homophone 字号, former name,
other legal form, missing fields, typo'd codes); 8% refer to enterprises absent from the index.

Each configuration runs in a fresh child process so its peak RSS (``resource.getrusage``) is its
own. Reported: train and score wall time (and CPU time, steadier on a shared machine), candidate
pairs (exact count per blocking rule), and quality against the generator's truth: a mention is
*matched* when its best candidate has P >= 0.5; precision = correct / matched, recall = correct /
mentions whose enterprise exists; blocking recall = the true enterprise is among the candidates.
The model is run at 1/2 and 1x scale, and blocked (not scored) at 2x, to show how pairs grow.

The baseline blocks on the first two characters of the raw name. Department names nearly all start
with 晋江 / 福建, so that rule is quadratic: its pair count is reported at full scale, and it is
scored (side by side with the model) on a 1/20 sample small enough to finish.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

import pyarrow as pa
from pypinyin import lazy_pinyin

from entgraph.resolution.matching import MatchModel, baseline

TOWNS = [
    *("青阳街道", "梅岭街道", "西园街道", "罗山街道", "灵源街道", "新塘街道", "安海镇", "磁灶镇"),
    *("陈埭镇", "东石镇", "深沪镇", "金井镇", "池店镇", "内坑镇", "龙湖镇", "永和镇", "英林镇"),
    *("紫帽镇", "西滨镇"),
]
ROADS = ["世纪大道", "长兴路", "泉安路", "新华路", "迎宾路", "工业路", "和平路", "晋新路", "青华路", "安平路"]
# 字号 characters; homophone substitutes are looked up by pinyin among these plus EXTRA
TRADE_CHARS = (
    "恒鸿安达华丰盛祥鑫源龙泰宏利兴嘉凯瑞福宝辉美顺昌金永建万天中东晨海博正广联信诚德明晋"
    "星新荣和平益隆通发旺富贵吉祥康乐泉峰君豪雅特步匹狼柒牌劲霸乔丹鹏飞腾骏宇远洋润泽"
)
EXTRA = "衡洪按大化峰胜翔新元隆太红力星佳恺锐富保晖每舜常今勇健湾田忠冬辰孩搏政光连"
INDUSTRIES = [
    ("鞋业", "1952"),
    ("鞋服", "1952"),
    ("服装", "1810"),
    ("服饰", "1810"),
    ("纺织", "1713"),
    ("织造", "1713"),
    ("陶瓷", "3071"),
    ("建材", "3039"),
    ("食品", "1499"),
    ("机械", "3499"),
    ("塑料", "2929"),
    ("包装", "2231"),
    ("贸易", "5132"),
    ("电子", "3989"),
    ("印刷", "2319"),
    ("五金", "3389"),
]
FORMS = ["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾施洪蔡丁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志文辉玲燕红梅鹏飞斌"


def zipf_choice(rnd: random.Random, items: list[str] | str, s: float = 1.1) -> str:
    # inverse-CDF on precomputed weights would be faster; choices() with cum_weights is enough here
    return rnd.choices(items, cum_weights=_cum(len(items), s))[0]


_CUM: dict[tuple[int, float], list[float]] = {}


def _cum(n: int, s: float) -> list[float]:
    key = (n, s)
    if key not in _CUM:
        total, acc = 0.0, []
        for k in range(1, n + 1):
            total += 1.0 / k**s
            acc.append(total)
        _CUM[key] = acc
    return _CUM[key]


_PINYIN: dict[str, str] = {}


def pinyin(s: str) -> str:
    if s not in _PINYIN:
        _PINYIN[s] = "".join(lazy_pinyin(s))
    return _PINYIN[s]


def homophones() -> dict[str, list[str]]:
    by_sound: dict[str, list[str]] = {}
    for ch in dict.fromkeys(TRADE_CHARS + EXTRA):
        by_sound.setdefault(pinyin(ch), []).append(ch)
    return {ch: [o for o in by_sound[pinyin(ch)] if o != ch] for ch in TRADE_CHARS}


@dataclass
class Name:
    trade: str
    word: int
    form: str

    def fields(self, region: str | None = "晋江市") -> dict:
        word, code = INDUSTRIES[self.word]
        return {
            "name": f"{region or ''}{self.trade}{word}{self.form}",
            "name_core": f"{self.trade}{word}",
            "trade_name": self.trade,
            "trade_pinyin": pinyin(self.trade),
            "legal_form": self.form,
            "industry": code,
        }


@dataclass
class Enterprise:
    eid: str
    current: Name
    former: Name
    town: str
    phone: str
    rep: str
    address: str
    branch: str | None
    code_hint: str | None

    def base(self, uid: str, name: Name) -> dict:
        return {
            "unique_id": uid,
            "enterprise_id": self.eid,
            **name.fields(),
            "branch": self.branch,
            "region": "晋江",
            "legal_rep": self.rep,
            "phone": self.phone,
            "address": self.address,
            "town": self.town,
            "code_hint": self.code_hint,
        }

    def index_rows(self) -> list[dict]:
        current = self.base(f"{self.eid}#0", self.current)
        former = self.base(f"{self.eid}#1", self.former)
        variant = dict(self.base(f"{self.eid}#2", self.current), name=f"福建省{current['name']}")
        rows = [current, former, variant]
        for r in rows:
            r["raw_name"] = r["name"] + (f"({self.branch})" if self.branch else "")
        return rows


def make_enterprises(n: int, rnd: random.Random) -> list[Enterprise]:
    agency_phones = [f"0595{rnd.randrange(10**8):08d}" for _ in range(60)]
    out: list[Enterprise] = []
    taken: set[tuple[str, int]] = set()
    for i in range(n):
        if out and rnd.random() < 0.02:  # a branch of an earlier enterprise: same names, phone, address
            p = rnd.choice(out)
            out.append(
                Enterprise(
                    f"E{i:06d}",
                    p.current,
                    p.former,
                    p.town,
                    p.phone,
                    _person(rnd),
                    p.address,
                    rnd.choice(["泉州分公司", "厦门分公司", "第一分公司"]),
                    None,
                )
            )
            continue
        # registration rule: no two enterprises of one region share 字号 + industry words, so a
        # popular 字号 recurs at most once per industry and blocks on it stay bounded as N grows
        trade, word = _trade(rnd), rnd.randrange(len(INDUSTRIES))
        while (trade, word) in taken:
            trade, word = _trade(rnd), rnd.randrange(len(INDUSTRIES))
        taken.add((trade, word))
        current = Name(trade, word, rnd.choice(FORMS))
        renamed = rnd.random() < 0.3
        former = Name(
            _trade(rnd) if renamed else trade,
            rnd.randrange(len(INDUSTRIES)),
            current.form,
        )
        town = rnd.choice(TOWNS)
        out.append(
            Enterprise(
                eid=f"E{i:06d}",
                current=current,
                former=former,
                town=town,
                phone=rnd.choice(agency_phones) if rnd.random() < 0.03 else f"0595{rnd.randrange(10**8):08d}",
                rep=_person(rnd),
                address=f"晋江市{town}{rnd.choice(ROADS)}{rnd.randrange(1, 2000)}号",
                branch=None,
                code_hint=f"{rnd.randrange(10**8):08d}{rnd.randrange(10)}" if rnd.random() < 0.3 else None,
            )
        )
    return out


def _trade(rnd: random.Random) -> str:
    """Two (or, one time in four, three) distinct characters, mildly Zipfian: popular 字号 (恒安,
    鸿星 ...) recur, and the registration rule (no two enterprises of a region with the same 字号 +
    industry words) caps each at one per industry."""
    chars: list[str] = []
    length = 3 if rnd.random() < 0.25 else 2
    while len(chars) < length:
        ch = zipf_choice(rnd, TRADE_CHARS, 0.5)
        if ch not in chars:
            chars.append(ch)
    return "".join(chars)


def _person(rnd: random.Random) -> str:
    """Surnames are very skewed (王 / 李 / 张 ~ 7% each), given names less so."""
    given = zipf_choice(rnd, GIVEN, 0.5) + (zipf_choice(rnd, GIVEN, 0.5) if rnd.random() < 0.8 else "")
    return zipf_choice(rnd, SURNAMES, 1.0) + given


KINDS = ("exact", "abbreviated", "homophone", "former", "legal_form", "sparse")


def make_mention(e: Enterprise, uid: str, rnd: random.Random, sounds: dict[str, list[str]]) -> dict:
    kind = rnd.choice(KINDS)
    name = e.former if kind == "former" else e.current
    if kind == "homophone" and sounds.get(name.trade[1]):
        name = Name(name.trade[0] + rnd.choice(sounds[name.trade[1]]), name.word, name.form)
    if kind == "legal_form":
        name = Name(name.trade, name.word, rnd.choice([f for f in FORMS if f != name.form]))
    row = e.base(uid, name)
    region = rnd.choice(["晋江市", "晋江市", "福建省晋江市", "", "晋江"])
    row["name"] = Name(name.trade, name.word, name.form).fields(region)["name"]
    if kind == "abbreviated":
        row.update(name=row["name_core"], legal_form=None)
    drop = {"phone": 0.25, "legal_rep": 0.3, "address": 0.4, "industry": 0.4, "town": 0.2, "region": 0.3}
    if kind == "sparse":
        drop = dict.fromkeys(drop, 0.7)
    for col, p in drop.items():
        if rnd.random() < p:
            row[col] = None
    code = row["code_hint"]
    if code and rnd.random() < 0.3:
        k = rnd.randrange(len(code) - 1)
        row["code_hint"] = code[:k] + code[k + 1] + code[k] + code[k + 2 :]
    row["raw_name"] = row["name"] + (f"({e.branch})" if e.branch else "")
    row["enterprise_id"] = None
    return row


@dataclass
class City:
    index: pa.Table
    mentions: pa.Table
    truth: dict[str, str | None]
    labelled: pa.Table


def make_city(n_enterprises: int, n_mentions: int, seed: int = 2024) -> City:
    rnd = random.Random(seed)
    sounds = homophones()
    # the index holds n_enterprises; 8% of mentions are of enterprises absent from it (closed, out
    # of town, not yet registered), drawn from a further 10%
    everyone = make_enterprises(n_enterprises + n_enterprises // 10, rnd)
    known, unknown = everyone[:n_enterprises], everyone[n_enterprises:]
    index = pa.Table.from_pylist([r for e in known for r in e.index_rows()])
    rows, truth = [], {}
    for i in range(n_mentions):
        absent = rnd.random() < 0.08
        e = rnd.choice(unknown) if absent else zipf_choice(rnd, known, 0.3)  # type: ignore[arg-type]
        row = make_mention(e, f"M{i:07d}", rnd, sounds)
        rows.append(row)
        truth[row["unique_id"]] = None if absent else e.eid
    # labels: mentions that carried a valid credit code, two or three per enterprise
    labelled = []
    for j, e in enumerate(rnd.sample(known, min(len(known), max(2000, n_mentions // 5)))):
        for k in range(rnd.choice([2, 3])):
            labelled.append(dict(make_mention(e, f"L{j:06d}-{k}", rnd, sounds), enterprise_id=e.eid))
    return City(index, pa.Table.from_pylist(rows), truth, pa.Table.from_pylist(labelled))


def quality(candidates: list, truth: dict[str, str | None]) -> dict:
    top: dict[str, tuple[float, str]] = {}
    blocked: set[tuple[str, str]] = set()
    for c in candidates:
        blocked.add((c.mention_id, c.enterprise_id))
        if c.mention_id not in top or c.match_weight > top[c.mention_id][0]:
            top[c.mention_id] = (c.match_weight, c.enterprise_id)
    matched = {m: e for m, (w, e) in top.items() if w >= 0.0}
    correct = sum(1 for m, e in matched.items() if truth.get(m) == e)
    known = [m for m, e in truth.items() if e is not None]
    return {
        "precision": correct / len(matched) if matched else 0.0,
        "recall": correct / len(known) if known else 0.0,
        "blocking_recall": sum(1 for m in known if (m, truth[m]) in blocked) / len(known) if known else 0.0,
        "false_links_unknown": sum(1 for m in matched if truth.get(m) is None),
    }


def _cpu() -> float:
    """CPU seconds of this process, DuckDB's threads included: steadier than wall time on a
    shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_child(kind: str, n_enterprises: int, n_mentions: int, threads: int, count_only: bool) -> dict:
    city = make_city(n_enterprises, n_mentions)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = baseline(threads=threads) if kind == "baseline" else MatchModel(threads=threads)
    started = time.perf_counter()
    blocking = model.count_pairs(city.mentions, city.index)
    count_s = time.perf_counter() - started
    out: dict = {
        "kind": kind,
        "enterprises": n_enterprises,
        "index_rows": city.index.num_rows,
        "mentions": city.mentions.num_rows,
        "pairs": blocking[-1].cumulative if blocking else 0,
        "pairs_by_rule": [(b.rule, b.marginal) for b in blocking],
        "count_s": count_s,
        "rss_after_data_mb": rss_data,
    }
    if not count_only:
        started, cpu = time.perf_counter(), _cpu()
        model.train(city.labelled)
        out["train_s"], out["train_cpu_s"] = time.perf_counter() - started, _cpu() - cpu
        out["labelled"] = city.labelled.num_rows
        started, cpu = time.perf_counter(), _cpu()
        # pairs below -10 bits (P < 0.001 even for the prior-free ratio) are never worth showing
        candidates = model.score(city.mentions, city.index, threshold_match_weight=-10.0)
        out["score_s"], out["score_cpu_s"] = time.perf_counter() - started, _cpu() - cpu
        out["candidates"] = len(candidates)
        out |= quality(candidates, city.truth)
    model.close()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child(*args: object) -> dict:
    cmd = [sys.executable, "-m", "bench.matching", "--child", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    cols = [
        ("model", lambda r: r["kind"]),
        ("enterprises", lambda r: f"{r['enterprises']:,}"),
        ("index rows", lambda r: f"{r['index_rows']:,}"),
        ("mentions", lambda r: f"{r['mentions']:,}"),
        ("pairs", lambda r: f"{r['pairs']:,}"),
        ("pairs/mention", lambda r: f"{r['pairs'] / r['mentions']:.1f}"),
        ("train s (cpu)", lambda r: f"{r['train_s']:.1f} ({r['train_cpu_s']:.1f})"),
        ("score s (cpu)", lambda r: f"{r['score_s']:.1f} ({r['score_cpu_s']:.1f})"),
        ("precision", lambda r: f"{r['precision']:.3f}"),
        ("recall", lambda r: f"{r['recall']:.3f}"),
        ("blocking recall", lambda r: f"{r['blocking_recall']:.3f}"),
        ("false links (absent)", lambda r: f"{r['false_links_unknown']:,}"),
        ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:.0f}"),
    ]

    def cell(f, r: dict) -> str:
        try:
            return f(r)
        except KeyError:  # a count-only run
            return "-"

    lines = ["| " + " | ".join(name for name, _ in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(f, r) for _, f in cols) + " |" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20, help="side-by-side run at 1/N of each size")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n_e, n_m, threads, count_only = args.child
        print(json.dumps(run_child(kind, int(n_e), int(n_m), int(threads), count_only == "1")))
        return

    e, m, t = args.enterprises, args.mentions, args.threads
    half = child("model", e // 2, m // 2, t, 0)
    full = child("model", e, m, t, 0)
    double = child("model", 2 * e, 2 * m, t, 1)  # blocking only: does pairs/mention level off?
    runs = [half, full, double, child("baseline", e, m, t, 1)]
    small_e, small_m = e // args.sample, m // args.sample
    runs += [child("model", small_e, small_m, t, 0), child("baseline", small_e, small_m, t, 0)]
    print(table(runs))
    print()
    per = [r["pairs"] / r["mentions"] for r in (half, full, double)]
    print(f"pairs per mention at 1/2, 1, 2 x scale: {per[0]:.1f}, {per[1]:.1f}, {per[2]:.1f}")
    print("pairs added by each blocking rule (full scale, model):")
    for rule, marginal in full["pairs_by_rule"]:
        print(f"  {marginal:>12,}  {rule}")


if __name__ == "__main__":
    main()
