"""How Chinese documents write things, defined once for every stage: numerals, where a sentence
ends, the quotes and brackets that close it, and the characters no text should hold."""

from __future__ import annotations

# Every character of a Chinese numeral as laws and notices write them (三十五, 两千, 一〇).
CN_NUM = "零〇一二三四五六七八九十百千两"
# The numerals of an ordinal, a phase or a grade (第三, 一期, 三级): "两级" is a count, not a grade.
ORDINAL_NUM = "一二三四五六七八九十"
CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_POWERS = {"十": 10, "百": 100, "千": 1000}
# Marks that end a sentence, and what may close it after the mark ("……。”" ends after the quote).
SENTENCE_MARKS = "。！？；!?;…"
CLOSERS = "”’」』）)]】"
# Unicode categories of characters that are not text: controls, surrogates, private use, unassigned.
NOT_TEXT = frozenset({"Cc", "Cs", "Co", "Cn"})
# … and those a terminal line must not print as they are (format characters, line separators).
UNPRINTABLE = NOT_TEXT | {"Cf", "Zl", "Zp"}


def cn_number(s: str) -> int | None:
    """二 → 2, 七十 → 70, 一百零五 → 105, 两千零二十 → 2020; None for what is not a plain number
    (a run of digits such as 一二)."""
    total, digit, held = 0, None, False
    for ch in s:
        if ch in CN_DIGITS:
            value = CN_DIGITS[ch]
            if value == 0 and total:  # 零 holds an empty place (一百零五), once
                if digit is not None or held:
                    return None
                held = True
                continue
            if digit is not None:  # two digits in a row ("一二") is not a number we read
                return None
            digit = value
        elif ch in CN_POWERS:
            total += (1 if digit is None else digit) * CN_POWERS[ch]
            digit, held = None, False
        else:
            return None
    return total + (digit or 0)
