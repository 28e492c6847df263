"""The wording tables of question analysis: frame words, kinds of figure, generic phrasings, shapes.

Data more than code: edit the tables to teach the assistant new everyday wording; the functions
in question.py, evidence.py and extract.py read them.
"""

from __future__ import annotations

import re

from assistant.text.zh import CN_NUM, ORDINAL_NUM

# Words that frame a question rather than name what it is about (generic nouns, verbs and
# adverbs of everyday questions). They are never required to appear in the evidence.
FRAME_TEXT = """
东西 地方 方面 情况 办法 方式 做法 措施 处理 步骤 流程 例子 先例 案例 事例 问题 里面 里头 以后 之后
以前 之前 最近 近期 起来 出来 下来 别的 其他 其它 还有 另外 现在 当前 时候 一共 总共 合计 大概 大约
左右 多大 多长 多久 多高 多远 哪天 哪一天 哪年 哪一年 第几 几个 几家 几项 几种 几次 几批 怎么样 怎么
怎样 如何 特别 具体 一般 通常 普遍 直接 别人 自己 那边 这边 这回 这次 那次 那批 这批 那段 这段 那种
这种 各是 还是 相比 比较 为了 期间 已经 一直 哪里 哪儿 哪 什么 哪些 哪个 哪家 多少 是否 有没有 能否
能不能 可不可以 最多 最少 最高 最低 最大 最小 最 更 更高 更多 更大 更少 更低 多 少 大 小 高 低 吗
呢 去 到 能 会 想 该 但 交 做 拿 拿到 看 开 走 用 花 投 放 等 算 完全 不能 可以 因为 的话 麻烦
省里 市里 局里 县里 镇里 村里 政府 有关部门 部门 平时 主要 重点 要求 有关 相关 一些 这样 那样 这么
那么 为什么 为啥 咋 啥 干什么 干嘛 哪方面 怎么办 如何办 办理 了解 介绍 说说 讲讲 问问 请问 一下 下
结果 效果 成果 成效 工作
"""
FRAME_WORDS = frozenset(FRAME_TEXT.split())
# Generic wording of statistics in questions → how reports put it (sentence scoring only).
GENERIC_PHRASES: list[tuple[str, list[str]]] = [
    ("比去年", ["同比", "上年"]),
    ("较去年", ["同比", "上年"]),
    ("跟去年比", ["同比", "上年"]),
    ("与去年相比", ["同比", "上年"]),
    ("涨了", ["提高", "增长", "增加"]),
    ("多了", ["提高", "增长", "增加"]),
    ("最近", ["近日", "近期", "日前"]),
    ("以前", ["传统", "原来", "过去"]),
    ("好处", ["降低", "减少", "便捷", "优势", "提升"]),
    ("的比例", ["率"]),
    ("直接", ["无需", "即可"]),
    ("多少钱", ["投资", "金额"]),
    ("花了", ["投资", "总投资"]),
]
EXPANSION_WEIGHT = 0.6
EXPANSION_TAG = "syn:"  # Term.tag of an official term called in by the question's wording
# The question asks for several things by name (a sentence feature; SEVERAL_RE below is the
# narrower rule that makes it a list-shaped answer).
ENUMERATION_RE = re.compile(r"哪些|哪几|都有什么|有什么")
PART_CONTEXT = 0.25
PART_SHARED = 0.6
CLAUSE = re.compile(r"[?？;；,，。!！()（）]+")
QUESTION_WORD = re.compile(
    r"什么|啥|多少|几|哪|怎么|如何|怎样|吗|呢|是否|有没有|能否|谁|何时|多大|多长|多久|高还是低"
)
# Question words that ask for something (not 吗 or 是否: a yes-or-no question asks for no figure;
# 呢 asks again what was asked before), and those that ask for a quantity.
ASKS = re.compile(r"什么|啥|多少|几|哪|怎么|如何|怎样|谁|何时|多大|多长|多久|多高|多远|呢")
ASKS_QUANTITY = re.compile(r"多少|几|多大|多长|多久|多高|多远|什么时候|啥时候|何时|哪天|哪一?年")
# A yes-or-no question that weighs two things ("两部法规要求一样吗") asks for both figures.
SAME = re.compile(r"一样|一致|相同|不同|区别|差别|差异")
CONJUNCTION = re.compile(r"(?:和|与|跟|以及|及|、)(?![的])")
# Question words whose next noun is what is asked for (the "focus").
NOMINAL_WH = frozenset(
    ["什么", "哪些", "哪个", "哪家", "哪种", "多少", "几", "几个", "几家", "几项", "几种"]
)
# Part-of-speech tags of function words (jieba's tag set): never content terms.
FUNCTION_TAGS = ("u", "p", "c", "y", "o", "r", "d", "q", "f", "x", "w", "zg")
FUNCTION_EXACT = frozenset({"e"})  # interjections ("eng", English words, stays content)
PURE = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9.%]+$")
DIGIT = re.compile(r"\d")
PHASE = re.compile(rf"^[{ORDINAL_NUM}]+[期批级号]$")  # 一期, 三期: jieba tags some as adverbs

# What kind of figure a question asks for, and what such a figure looks like in a passage.
# A figure as documents write it: digits, or Chinese numerals as laws do (三十五公顷, 六十日).
NUMERAL = rf"(?:\d[\d.,]*|[{CN_NUM}]+)"
ANSWER_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (
        re.compile(
            r"多少钱|价格|价钱|费用|手续费|收费|金额|罚款|罚多少|多少元|花了多少|投了多少|投资多少|投资多大|投资额|投资规模|投入多少|几十亿|几亿|上亿|多少亿|几千万|(?:金|费|价|款|钱|租)的?标准|房价|地价|单价|收入|产值|营业额|利润|贷多少|能贷"
            # A fee, fund or subsidy asked "how much" ("多少登记费", "补偿费一亩一年给多少").
            r"|(?:费|金|款|租|税|补贴|奖补|奖励)[^，。？?]{0,8}多少|多少[^，。？?]{0,4}(?:费|金|款|税|补贴|奖补|奖励)"
        ),
        # Fines in laws are also a multiple or a share of some base ("一倍以上二倍以下", "10%以下").
        re.compile(rf"{NUMERAL}多?(?:亿|万|千)?(?:元|美元|欧元|块)|{NUMERAL}倍|\d[\d.]*\s*[%％]"),
    ),
    "duration": (
        re.compile(
            r"多少天|几天|多久|多长时间|时间有?多长|期[^，。？?]{0,2}多长|工作日|几个月|多少个月|几年|多少年|期限|时限|时长|有效期"
        ),
        re.compile(
            rf"(?<!\d)(?:\d{{1,3}}(?:\.\d+)?|[{CN_NUM}]+)多?(?:个)?(?:天|个月|个工作日|工作日|年|日|小时|周)"
        ),
    ),
    "date": (
        re.compile(r"哪天|哪一天|什么时候|啥时候|何时|哪一年|哪年|几月|几号|什么时间|啥时间"),
        re.compile(r"\d+(?:年|月|日)|[今去明前]年|近日|目前"),
    ),
    "percent": (
        re.compile(
            r"比例|比率|占比|百分之|百分比|[完开竣成利增]\w?率|率是多少|率多少|几成|多少个?百分点"
        ),
        re.compile(rf"\d[\d.]*\s*[%％‰]|百分之|[{CN_NUM}]+分之[{CN_NUM}]+"),
    ),
    "rank": (
        re.compile(r"第几|排名|排第|名次|排在|几级"),
        re.compile(rf"第[{ORDINAL_NUM}\d]+|[{ORDINAL_NUM}\dA-Z]+级"),
    ),
    "area": (
        re.compile(
            r"面积|占地|多少亩|(?:多少|多大)\w{0,4}(?:地|土地|用地)(?!方)|用地规模|多少平方|多少公顷|(?<!投资)有多大"
        ),
        re.compile(rf"{NUMERAL}多?(?:亩|平方|公顷)"),
    ),
    "length": (
        re.compile(
            r"(?<!时间)(?<!时间有)(?<!期)(?<!期.)(?<!期..)多长(?!时间)|多少公里|多少米|多少千米|长度"
        ),
        re.compile(rf"{NUMERAL}多?(?:公里|千米|米|km)"),
    ),
    "venue": (
        re.compile(
            r"(?:去|到|在)哪(?:里|儿)?(?:报名|办理|申请|办|交|提交|咨询|登记|领取|购买|买|投诉|举报|办公)|哪里可以|去哪(?![些个家几一])|什么地方(?:办|报名|申请)"
        ),
        re.compile(
            r"窗口|大厅|服务中心|网站|地址|电话|热线|办事处|服务点|办理点|网上办|线上办|[Aa][Pp][Pp]|小程序|公众号|浙里办|政务服务网"
        ),
    ),
    # A number, address or website asked for is answered only by one written out: a passage that
    # says "咨询电话" or "指定网站" without it does not say what the number or the site is.
    "contact": (
        re.compile(r"电话|热线|网址|邮箱|联系方式|地址|哪个网站|什么网站|网站是"),
        re.compile(
            r"(?<![\d.])(?:0\d{2,3}[-－—]?)?\d{7,8}(?![\d.万亿元个])|(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)123\d\d(?!\d)"
            r"|https?://|www\.|[A-Za-z0-9-]+\.(?:gov|com|cn|org|net)\b|[\w.-]+@[\w-]+\."
            r"|[\u4e00-\u9fff]{1,10}(?:路|街|大道|巷|弄)\d+号"
        ),
    ),
    "capacity": (
        re.compile(r"产能|产量|吞吐量|多少吨|年产多少"),
        re.compile(r"\d[\d.]*多?(?:万|亿)?(?:吨|件|台|套|辆|标箱)"),
    ),
    "count": (
        re.compile(
            r"(?<![哪好十])几(?:个|家|项|种|批|宗|次|户|尾|条|处|所|座)|多少(?:个|家|项|种|批|宗|次|户|尾|条|处|所|座|单位)"
        ),
        re.compile(rf"{NUMERAL}多?(?:万|亿)?(?:个|家|项|种|批|宗|所|座|类|次|户|尾|条|处|单位)"),
    ),
    "people": (
        re.compile(r"多少人|多少名|工人|员工|就业岗位|招多少|招聘"),
        re.compile(rf"{NUMERAL}多?(?:万|千)?(?:人|名|位)|[{CN_NUM}]+分之[{CN_NUM}]+"),
    ),
}
# Words that name the quantity a figure gives ("用地面积1224亩", "总投资53.3亿元").
TYPE_KEYWORDS = {
    "money": "投资|投入|金额|价格|费用|收入|资金|总额|产值|营业",
    "duration": "时间|期限|时限|缩短|用时",
    "date": "于|在|自|从",
    "percent": "率|比例|占比|比重",
    "area": "面积|占地|用地|土地|划定",
    "length": "长|长度|岸线|海岸线",
    "people": "人数|员工|职工|就业",
    "capacity": "年产|产能|产量",
    "count": "共|有|达|数",
    "rank": "成绩|排名|位列|名列",
    "venue": "地点|地址",
    "contact": "电话|热线|网址|网站|地址|邮箱|联系",
}
PER_UNIT = re.compile(r"每(亩|平方米|平米|平方|人|户|吨|年|月|天|件|套)")
# How documents write a unit that people shorten ("每平米" is "每平方米" in every rule).
UNIT_NAMES = {"平米": "平方米", "平方": "平方米"}
# Words jieba tags as places that name a kind of area, not a place whose rule could be asked for.
AREA_KINDS = frozenset("外国 国外 海外 境外 海洋 海上 沿海 内地 内陆 山区".split())

LIST_RE = re.compile(r"有哪些|都有什么|列举|有什么.{0,6}(项目|工程|案例)")
# Asking which things ("哪些条件", "哪几种", "哪三个优先") asks for several of them: after the
# procedure words, so that "要走哪些步骤" stays a procedure.
SEVERAL_RE = re.compile(r"哪些|哪几|哪[两三四五六七八九十]")
PROCEDURE_RE = re.compile(
    r"怎么|如何|怎样|流程|步骤|手续|程序|哪几项|哪几步|要办|该怎么|办理"
    r"|哪些(?:准备|措施|工作|举措|做法|步骤|环节|手续|材料|登记|事情|事|办法|政策|服务|支持)"
)
COMPARE_RE = re.compile(
    r"哪个.{0,8}(更|大|多|高|少|低|长|早|晚)|相比|比较|一样吗|有什么不同|有啥不同|区别|多多少|差多少|分别|各是|各多少|各自"
)
