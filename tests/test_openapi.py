"""The published OpenAPI schema is the contract: schemathesis generates requests for every operation of
``/openapi.json``, signed out and with a member's token, and fails on any 5xx, a status code, content type,
header or body the schema does not document, or schema-invalid input that is not refused with a 4xx.

Bounded: a few dozen examples per operation (``EXAMPLES``), in-process, against the bundled real data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.generation.case import Case
from schemathesis.schemas import BaseSchema

from paperfeed.web.app import create_app
from tests.community import member, token_for
from tests.conftest import load_bundled, make_settings

EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def _site() -> tuple[BaseSchema, dict[str, str]]:
    """The app over the bundled real data and a member's token. Built on import: schemathesis reads the
    operations from the schema when pytest collects this module."""
    folder = Path(tempfile.mkdtemp(prefix="paperfeed-openapi-"))
    # arXiv is a closed local port, tried once: a submission answers at once, whatever it decides.
    site = make_settings(folder, arxiv_api_endpoint="http://127.0.0.1:9/api/query", http_retries=0)
    db = load_bundled(site)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(site)), token_for(
        db, member(db, "fuzzer")
    )


schema, TOKEN = _site()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_keeps_its_contract(case: Case) -> None:
    case.call_and_validate(checks=CHECKS)  # signed out
    case.call_and_validate(headers=TOKEN, checks=CHECKS)  # as a member
