from __future__ import annotations

from conftest import REPO

from specgen.job.references import check_references, generated_files


def test_generated_references_are_current():
    stale = check_references(REPO / "references")
    assert stale == [], f"stale generated references: {stale}; run `depthnet references --dir references`"


def test_handwritten_references_exist():
    for name in ("finetuning.md", "troubleshooting.md", "spec-overrides.md", "parameters.md"):
        assert (REPO / "references" / name).is_file(), name
    assert {"spec_template_train.yaml", "spec_template_deploy.yaml", "schemas/train.schema.json"} <= set(
        generated_files()
    )
