"""Terminal tables line up whatever script their cells are written in."""

from entgraph.display import pad, short, width


def test_chinese_takes_two_columns() -> None:
    assert width("晋江市abc") == 9
    assert width("ＡＢ") == 4  # full-width letters too


def test_padding_and_cutting_by_columns() -> None:
    rows = [pad(text, 12) + "|" for text in ("陈埭镇", "Jinjiang", "晋江市恒达鞋业有限公司")]
    assert {width(row) for row in rows} == {13}, rows
    assert short("晋江市恒达鞋业有限公司", 9) == "晋江市恒…"
    assert short("abc", 9) == "abc"
