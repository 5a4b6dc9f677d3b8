"""Text folding shared by every lookup by name: skills, regions, column headers."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^0-9a-z+#]+")


def fold(text: str) -> str:
    """Lower case, no accents, each run of other characters than letters, digits, `+` and `#` as one space.

    "Java (OpenJDK)" -> "java openjdk", "Équipe C++" -> "equipe c++", "  Node.js " -> "node js".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", plain.replace("œ", "oe").replace("æ", "ae")).strip()
