"""Write error_messages.json: the message each case of cases.py gives now.

    python tests/schema/pin_messages.py      # then review `git diff tests/schema/error_messages.json`
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))

from leonet.errors import ConfigError  # noqa: E402
from schema.cases import CASES  # noqa: E402
from schema.test_messages import PARSERS  # noqa: E402


def main() -> None:
    out = {}
    for case_id, section, raw in CASES:
        try:
            PARSERS[section](raw)
            out[case_id] = None
        except ConfigError as exc:
            out[case_id] = str(exc)
    (HERE / "error_messages.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"pinned {len(out)} messages; cases without an error: {[k for k, v in out.items() if v is None]}")


if __name__ == "__main__":
    main()
