#!/usr/bin/env python3
"""Writes Tests/ModelTests/Fixtures/tokenizer-corpus.json: the texts of the tokenizer parity tests.

Hand-written cases cover what byte-level BPE and WordPiece get wrong most often (Unicode, emoji,
digits, runs of spaces and newlines, contractions, code, accents, CJK); systematic combinations
of them bring the corpus to a few hundred lines.
"""
import json
import os

HAND = [
    "Hello world", "Hello, world!", " leading space", "trailing space ", "  two leading", "tabs\tand\ttabs",
    "line one\nline two", "para one\n\npara two", "\n\n\nthree newlines first", "ends with newline\n",
    "mixed \t \n whitespace", "a  b   c    d     e", "     ", "\n", "", "x",
    "I'm sure you're right, they've said it'll work and he'd go.", "DON'T SHOUT, IT'S LOUD", "rock 'n' roll",
    "She said \"yes\" -- and left...", "’curly’ “quotes” — dashes – too", "e.g., i.e., etc.",
    "1234567890", "3.14159 and 2,718,281", "Call 555-0199 at 10:45pm on 2024-03-15", "v1.2.3-beta+build.7",
    "0x1F 0b1010 1e-9 -42 +7", "12345678901234567890123", "In 1999, 2000 and 2001 we had 100% growth.",
    "café naïve résumé façade coöperate", "Ångström Æsir Øresund", "Straße Mädchen Übermensch", "ÉCOLE ÉLÈVE",
    "Ελληνικά κείμενα", "Русский текст с пунктуацией!", "עברית", "العربية", "हिन्दी पाठ",
    "日本語のテキストです。", "中文文本，包含标点。", "한국어 텍스트", "ภาษาไทย", "Tiếng Việt có dấu",
    "emoji 😀 🎉 👍🏽 👨‍👩‍👧 🇫🇷", "math ∑ ∫ √ ∞ ≠ ≤ ≥ π", "arrows → ← ↑ ↓ ⇒", "© ® ™ § ¶ € £ ¥",
    "def f(x):\n    return x ** 2  # square", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "let total = values.reduce(0, +)", "SELECT name, COUNT(*) FROM users WHERE age > 21 GROUP BY name;",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "<div class=\"x\">Hi &amp; bye</div>", "https://example.com/a/b?c=d&e=f#g",
    "user@example.org", "snake_case camelCase PascalCase kebab-case SCREAMING_CASE", "$HOME/.config/app.yaml",
    "@@@ ### $$$ %%% ^^^ &&& ***", "(((nested))) [[brackets]] {{braces}}", "a-b_c.d,e;f:g!h?i",
    "The quick brown fox jumps over the lazy dog.", "what is the sentiment of this review? positive",
    "__sst__ context question __ans__ answer", "<|endoftext|>", "<|im_start|>user\nHi<|im_end|>",
    "unaffable unbelievable antidisestablishmentarianism", "NASA's JWST observed GN-z11 at z≈10.6",
    "   spaces   between   words   ", "end.", "...", "?!", "'s", "'", "''", "don't", "it's'", "O'Neil's",
    "a\u00a0non-breaking space", "zero\u200bwidth", "soft\u00adhyphen", "combining e\u0301 accent", "full\u3000width",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ", "ﬁ ligature", "Ⅻ roman numeral", "²³ superscripts ½ ¼",
]

WORDS = ["the", "model", "learns", "tasks", "without", "forgetting", "café", "2024", "don't", "😀", "日本", "x1", "--", "\n"]


def main():
    corpus = list(HAND)
    for i, a in enumerate(WORDS):
        for j, b in enumerate(WORDS):
            corpus.append(f"{a} {b}" if (i + j) % 3 else f"{a}{b}  {a}")
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelTests", "Fixtures", "tokenizer-corpus.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(corpus, f, ensure_ascii=False, indent=0)
    print(len(corpus), "texts written to", os.path.abspath(path))


if __name__ == "__main__":
    main()
