"""What ``entgraph demo`` prints for the console: its URL and a working key per role, fresh each run."""

from __future__ import annotations

from pathlib import Path

import pytest

from entgraph.api.auth import ApiKeyFile, Authenticator
from entgraph.api.client_errors import Unauthenticated
from entgraph.demo import DEMO_ROLES, demo_logins, print_console
from entgraph.settings import Settings


def test_each_run_makes_working_keys_and_revokes_the_previous_ones(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    authenticator = Authenticator(None, ApiKeyFile(settings.api_keys_path))
    first = demo_logins(settings)
    assert set(first) == set(DEMO_ROLES)
    for role, key in first.items():
        principal = authenticator.authenticate({"x-api-key": key})
        assert principal.role.value == role and principal.subject == f"demo-{role}"
    second = demo_logins(settings)
    for role in DEMO_ROLES:
        assert authenticator.authenticate({"x-api-key": second[role]}).role.value == role
        with pytest.raises(Unauthenticated):
            authenticator.authenticate({"x-api-key": first[role]})
    assert len(ApiKeyFile(settings.api_keys_path).check()) == len(DEMO_ROLES)


def test_the_console_url_and_keys_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logins = demo_logins(Settings(home=tmp_path))
    print_console(8123, logins)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/console/" in out
    assert all(key in out for key in logins.values())
