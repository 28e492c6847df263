"""Every setting is documented in the README (as datasette does)."""

from __future__ import annotations

from assistant.settings import Settings, get_settings
from tests.conftest import REPO


def test_readme_names_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"PA_{name.upper()}" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_every_setting_has_help() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_settings_come_from_prefixed_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PA_TOP_K", "7")
    monkeypatch.setenv("PA_CORS_ORIGINS", '["http://kiosk.local"]')
    s = get_settings()
    assert s.top_k == 7 and s.cors_origins == ["http://kiosk.local"]
    monkeypatch.setenv("PA_CORS_ORIGINS", "http://a.local, https://b.local/")
    assert get_settings().cors_origins == ["http://a.local", "https://b.local"]
    assert get_settings(top_k=3).top_k == 3
