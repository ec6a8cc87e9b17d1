#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/corpus.jsonl: the texts the BPE tokenizer is checked on against
the reference tokenizers (scripts/oracle/bpe-oracle.mjs), one JSON string per line.

Deterministic (fixed seed): running it again gives the same file. Every text is in Unicode
normalization form C, since Qwen's tokenizer.json normalizes to NFC and llama.cpp does not (for
NFC text the two agree).

    python3 scripts/gen-tokenizer-corpus.py [OUT]
"""
import json
import random
import sys
import unicodedata

rng = random.Random(20261204)

words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "energy", "joule",
         "token", "benchmark", "inference", "model", "watt", "power", "cache", "llama", "qwen",
         "Hello", "World", "HTTP", "JSON", "iPhone", "McDonald", "naïve", "café", "façade",
         "coöperate", "Zürich", "São", "Paulo", "Ærø", "straße", "Ελλάδα", "Москва", "Київ"]
cjk = ["你好世界", "今天天气很好。", "机器学习模型的能耗", "日本語の文章です", "東京都", "カタカナとひらがな",
       "한국어 문장입니다", "서울특별시", "漢字", "中文，标点！", "「引用」と『二重』"]
scripts = ["مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Γειά σου Κόσμε",
           "Привет, мир!", "Xin chào thế giới", "Ελληνικά κείμενα", "ภาษาไทย ๑๒๓", "हिन्दी ४५६"]
emoji = ["😀", "🦙", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "❤️", "✨", "🔥🔥🔥", "🤖", "⚡", "☕", "🏳️‍🌈", "1️⃣"]
punct = ["!!!", "???", "?!", "...", "…", "—", "--", "---", "===", "***", "«»", "„“", "''", "\"\"",
         "(((", ")))", "[]", "{}", "<>", "<<=", ">>>", "&&", "||", "::", ";;", "@#$%^&*", "~`|\\",
         "¿¡", "§¶", "•", "→", "±", "©®™", "€$£¥", "%%"]
specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|reserved_special_token_5|>", "<|im_start|>", "<|im_end|>",
            "<|endoftext|>", "<think>", "</think>", "<tool_call>", "<|fim_prefix|>", "<|vision_pad|>"]
contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Re", "'rE", "'VE",
                "'M", "'LL", "'Ll", "'D"]
spaces = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ",
          "  \n  ", "\t\n", "\n\n\n", " \t ", "\u00a0", "\u3000", "\u2003", "\r", "\r\r\n"]

fixed = [
    "", " ", "  ", "\n", "\t", "a", "A", "1", "!", "'", "Hello world", " Hello world", "Hello  world",
    "Hello world ", "Hello world  ", "I'm here", "I'M HERE", "you're right", "YOU'RE RIGHT",
    "They've gone", "THEY'VE GONE", "we'll see", "WE'LL SEE", "he'd say", "HE'D SAY", "it's",
    "IT'S", "don't", "DON'T", "can't stop", "o'clock", "rock'n'roll", "'tis", "''s", "'s'", "'",
    "Joe's", "JOE'S", "y'all", "'hello'", "\"quoted\"", "it’s (curly)",
    "0", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789",
    "1234567890", "12345678901234567890", "3.14159", "-42", "+7", "1,234,567", "1.000.000",
    "2026-12-04", "12:30:45", "0x1F4A9", "1e-10", "6.02e23", "v1.2.3", "$19.99", "100%",
    "50/50", "1st 2nd 3rd 4th", "A1B2C3", "abc123def456", "½ ¼ ¾", "x² + y³", "Ⅻ Ⅳ",
    "٣٤٥", "１２３", "①②③", "๑๒๓", "४५६",
    "<|begin_of_text|>Hello", "Hello<|end_of_text|>", "<|im_start|>user\nHi<|im_end|>\n",
    "<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>",
    "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>",
    "<|begin_of_text|><|begin_of_text|>", "<|im_start|", "<|im_start|>>", "<<|im_end|>",
    "<|endoftext|>text<|endoftext|>", " <|im_start|> ", "<|reserved_special_token_250|>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "\n\n\n", "   leading", "trailing   ", "a\tb", "a\t\tb", "a \tb", "a\t b", "a\nb", "a\r\nb",
    "a\n\nb", "a \n b", "a  \n  b", "line1\nline2\nline3\n", "\r\n\r\n", "x\r", " \r\n ",
    "tab\tseparated\tvalues", "    indented code", "\tindented with tab", "a\u00a0b", "a\u3000b",
    "a \u00a0 b", "end with newline\n", "ends with spaces   \n   ",
    "hello!!!", "what?!", "wait...", "ok.", "(parenthetical)", "[bracket]", "{brace}",
    "a-b-c", "a_b_c", "snake_case_name", "camelCaseName", "PascalCase", "kebab-case-name",
    "email@example.com", "https://example.com/path?q=1&r=2#frag", "C:\\Users\\name\\file.txt",
    "/usr/local/bin", "~/.bashrc", "#hashtag", "@mention", "!important", "  !!  ",
    "...and then", "…", "—dash—", "«guillemets»", "„Anführungszeichen“", "¿Qué?", "¡Hola!",
    "😀", "🦙🦙", "👨‍👩‍👧‍👦 family", "🇫🇷🇩🇪", "I ❤️ NY", " 🔥", "emoji😀inside", "1️⃣2️⃣",
    "你好", "你好世界", " 你好", "中文 English 混合", "日本語とEnglish", "한국어", "Ελληνικά",
    "Русский текст", "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt", "ǅemal", "ŉ", "ﬁ ligature",
    "naïve café", "Ångström", "Straße", "İstanbul", "ÀÉÎÕÜ", "ñandú", "Œuvre",
]

# Unicode corners: other white space and format characters, combining marks, letters and numbers
# outside the BMP, compatibility forms, private use.
edge = [
    "a\u0085b", "a\ufeffb", "a\u001cb", "a\u200bb", "a\u2028b", "a\u2029b", "x\u000bz", "x\u000cz",
    "e\u0301", "\u0301abc", "a \u0301", "Ⅷ12", "ǅx", "ﬀ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟏𝟐𝟑𝟒", "٠١٢٣٤٥٦٧٨٩", "\u00ad",
    "a\u00a0\u00a0b", "\u3000\u3000x", "  \u3000x", "\t \n \r\n\t", "'''s", "'S'T'RE", "it''s", " 's",
    "\n's", "a'\nb", "!!!\n\n\nx", " !!!\r\n", "?\r\n\r\n", "   \n", "\n   ", "\r\r\r", "😀\n😀",
    "😀😀😀😀", "\u200d", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "ａｂｃ", "Ａ１",
    "ℌℍ", "µ", "ß", "ŉ", "ǰ", "ΐ", "Ꭰ", "ꭰ", "ᏸ", "٫٬", "٪", "₿", "¹²³", "Ⅰⅱ", "〇一二三", "〆", "々", "ー",
    "ｰ", "ゝ", "\U0001F1E6", "\U000E0001", "\uE000", "\U000F0000", "\uFFFD", "\uFFFC", "a\u180eb",
    "x\u2060y",
]

code = [
    "int main(void) {\n\treturn 0;\n}\n",
    "for (int i = 0; i < n; i++) {\n    sum += a[i] * b[i];\n}",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "const x = await fetch(`/api/${id}`);",
    "if (a != b && c >= d || !e) { x <<= 2; y >>= 3; }",
    "SELECT name, COUNT(*) FROM users WHERE age > 18 GROUP BY name;",
    "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "echo \"$HOME\" | grep -E '^/h' && ls -la ~/ 2>/dev/null",
    "x = [1, 2, 3]; y = {'a': 1, \"b\": 2}",
    "    # comment with    spaces\n    pass",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "<div class=\"x\"><p>Hello &amp; welcome</p></div>",
    "{\"key\": [1, 2.5, -3e4, true, null], \"s\": \"\\u00e9\"}",
    "a+=1;b-=2;c*=3;d/=4;e%=5;f**=6",
    "lambda x: x**2 if x>0 else -x",
    "std::vector<std::string> v{\"a\", \"b\"};",
    "$ ./joulebench run --model model.gguf --threads 8\n",
    "diff --git a/x.c b/x.c\n@@ -1,3 +1,4 @@\n-old\n+new\n",
]


def rand_word():
    r = rng.random()
    if r < 0.55:
        w = rng.choice(words)
    elif r < 0.65:
        w = rng.choice(cjk)
    elif r < 0.72:
        w = rng.choice(scripts)
    elif r < 0.78:
        w = rng.choice(emoji)
    elif r < 0.86:
        w = str(rng.randint(0, 10 ** rng.randint(1, 12)))
    elif r < 0.93:
        w = rng.choice(punct)
    else:
        w = rng.choice(words) + rng.choice(contractions)
    case = rng.random()
    if case < 0.1:
        w = w.upper()
    elif case < 0.2:
        w = w.capitalize()
    return w


def rand_line():
    parts = []
    for _ in range(rng.randint(1, 14)):
        if rng.random() < 0.04:
            parts.append(rng.choice(specials))
        parts.append(rand_word())
        r = rng.random()
        if r < 0.7:
            parts.append(" ")
        elif r < 0.9:
            parts.append(rng.choice(spaces))
        elif r < 0.95:
            parts.append(rng.choice(punct))
    s = "".join(parts)
    if rng.random() < 0.2:
        s = rng.choice(spaces) + s
    if rng.random() < 0.3:
        s = s.rstrip(" ")
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tokenizer/corpus.jsonl"
    texts = fixed + edge + code + [rand_line() for _ in range(260)]
    seen, lines = set(), []
    for t in texts:
        t = unicodedata.normalize("NFC", t)
        if t not in seen:
            seen.add(t)
            lines.append(json.dumps(t, ensure_ascii=False))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}: {len(lines)} texts")


if __name__ == "__main__":
    main()
