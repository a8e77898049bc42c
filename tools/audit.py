"""`make security`'s dependency check: pip-audit over the pinned requirements when its
vulnerability data can be reached, a printed skip when it cannot (no network, or an index
mirror without PyPI's vulnerability data) — never a failure for want of a network.

Exit 1 only for a known vulnerability in a pinned package. Usage: python tools/audit.py
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180


def main():
    audit = Path(sys.executable).with_name("pip-audit")
    if not audit.exists():
        print("pip-audit: not installed (requirements-dev.txt); skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        # Every requirement is pinned exactly, so no resolver (and no throwaway venv) is
        # needed: each pin is looked up as written.
        command = [str(audit), "-r", "requirements.txt", "-r", "requirements-dev.txt",
                   "--no-deps", "--disable-pip", "--progress-spinner", "off",
                   "-f", "json", "-o", str(out)]
        try:
            run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                 timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"pip-audit: no answer from the vulnerability database in {TIMEOUT} s; "
                  "skipped")
            return 0
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    if report is None:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit: vulnerability database unreachable ({last[:160]}); skipped")
        return 0
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        print(f"pip-audit: the package index answered but has no vulnerability data for any "
              f"of the {len(deps)} pinned packages (a mirror?); skipped")
        return 0
    vulnerable = [d for d in audited if d.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"pip-audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
    skipped = len(deps) - len(audited)
    print(f"pip-audit: {len(audited)} pinned packages audited"
          + (f", {skipped} not found in the vulnerability data" if skipped else "")
          + (f"; {len(vulnerable)} with known vulnerabilities" if vulnerable
             else "; no known vulnerabilities"))
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
