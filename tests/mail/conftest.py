from pathlib import Path

import pytest

from app.mail.render import TemplateRenderer

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "emails"


@pytest.fixture
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATE_DIR)
